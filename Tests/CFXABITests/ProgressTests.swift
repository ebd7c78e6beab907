import CCFX
import Glibc
import XCTest
@testable import CFXABI

/// cfx_explain_progress: reports on the calling thread, and a callback can cancel cleanly.
final class ProgressTests: XCTestCase {
    final class Recorder {
        var reports: [[String: Any]] = []
        var threads: Set<UInt> = []
        var cancelAfter: Int?
    }

    private let record: cfx_progress_fn = { user, text in
        let recorder = Unmanaged<Recorder>.fromOpaque(user!).takeUnretainedValue()
        recorder.reports.append(try! jsonObject(String(cString: text!)))
        recorder.threads.insert(UInt(pthread_self()))
        if let limit = recorder.cancelAfter, recorder.reports.count >= limit { return 1 }
        return 0
    }

    func testProgressIsReportedOnTheCallingThreadAndCanCancel() throws {
        let fixture = try Fixture("iris")
        let model = try makeModel(fixture.spec)
        defer { cfx_model_free(model) }
        let explainer = try makeExplainer(model, #"{"method": "wachter", "return_all": false, "n_threads": 2}"#)
        defer { cfx_explainer_free(explainer) }
        let x = fixture.xTest.flatMap { $0 }, n = fixture.xTest.count

        let recorder = Recorder()
        let user = Unmanaged.passUnretained(recorder).toOpaque()
        var out: UnsafeMutablePointer<CChar>?
        try check { cfx_explain_progress(explainer, x, n, 4, record, user, &out, $0) }
        XCTAssertEqual(try jsonObject(takeString(out))["explanations"].map { ($0 as! [Any]).count }, n)
        let counts = recorder.reports.map { $0["instances_done"] as! Int }
        XCTAssertEqual(counts.last, n)
        XCTAssertEqual(counts, counts.sorted())
        XCTAssertTrue(recorder.reports.allSatisfy { $0["instances_total"] as? Int == n })
        XCTAssertEqual(recorder.threads, [UInt(pthread_self())])

        let cancelling = Recorder()
        cancelling.cancelAfter = 1
        out = nil
        var error = cfx_error()
        let status = cfx_explain_progress(explainer, x, n, 4, record, Unmanaged.passUnretained(cancelling).toOpaque(), &out, &error)
        XCTAssertEqual(status, CFX_ERR_CANCELLED)
        XCTAssertNil(out)
        let message = withUnsafeBytes(of: &error.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        XCTAssertTrue(message.hasPrefix("cancelled after "), message)
        XCTAssertTrue(message.hasSuffix("of \(n) instances"), message)
        // The explainer still works, with or without a callback.
        XCTAssertEqual(try explain(explainer, [fixture.xTest[0]])[0]["success"] as? Bool, true)
        try check { cfx_explain_progress(explainer, x, 1, 4, nil, nil, &out, $0) }
        cfx_free(out)
    }
}
