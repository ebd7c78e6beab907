import CCFX
import CFXCore
import CFXFormats

// cfx_evaluate_sets (include/cfx.h, "Evaluation"): the metrics of diverse sets of counterfactuals.

func setMetricsJSON(_ metrics: SetMetrics, options: JSON) -> JSON {
    let d = metrics.diversity
    let columns: [(String, [Double])] = [
        ("diversity", d.map { $0?.l1 ?? .nan }),
        ("diversity_mad", d.map { $0?.mad ?? .nan }),
        ("count_diversity", d.map { $0?.count ?? .nan }),
        ("members_valid", metrics.membersValid.map(Double.init)),
        ("all_valid", metrics.allValid.map { $0 ? 1 : 0 }),
    ]
    return .object([
        ("n", .int(metrics.membersFound.count)),
        ("k", .int(metrics.k)),
        ("summary", .object(columns.map { ($0.0, summaryJSON(Summary($0.1))) })),
        ("sets", .object([
            ("members_found", .array(metrics.membersFound.map { .int($0) })),
            ("members_valid", .array(metrics.membersValid.map { .int($0) })),
            ("all_valid", .array(metrics.allValid.map { .bool($0) })),
        ] + columns.prefix(3).map { ($0.0, .numbers($0.1)) })),
        ("members", metricsJSON(metrics.members, options: options)),
    ])
}

@_cdecl("cfx_evaluate_sets")
public func cfx_evaluate_sets(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ xCFs: UnsafePointer<Double>?, _ n: Int, _ k: Int,
                              _ d: Int, _ requestJSON: UnsafePointer<CChar>?,
                              _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                              _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let (handle, instances) = try objectAndRows(handle, .evaluator, EvaluatorHandle.self, "evaluator", x, n, d)
        guard k >= 1, k <= 100_000 else { throw CFXError(.invalidArgument, "k: must be between 1 and 100000 members per set, got \(UInt(bitPattern: k))") }
        let members = try bufferCount(rows: n * d, width: k, "x_cfs")  // n × d is within the limit already
        // Members may be rows of NaN (missing): copied as they are, checked by the core.
        let counterfactuals = Array(UnsafeBufferPointer(start: try required(xCFs, "x_cfs"), count: members))
        let request = try evaluationRequest(try requestJSON.map { try JSON.parse($0, "request_json") }, rows: n)
        let metrics = try handle.evaluator.evaluateSets(x: instances, members: counterfactuals, sets: n, k: k, request)
        return try setMetricsJSON(metrics, options: handle.effectiveOptions).serialized()
    }
}
