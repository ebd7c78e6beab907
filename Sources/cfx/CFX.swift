import ArgumentParser
import CCFX
import Foundation

@main
struct CFX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cfx-cli",
        abstract: "Counterfactual explanations for classifiers.",
        discussion: """
            `explain` and `predict` print a table at a terminal and JSON (explain) or CSV (predict) \
            otherwise; `--format table|csv|jsonl|json` chooses.
            """,
        version: String(cString: cfx_version()),
        subcommands: [Explain.self, Predict.self, Defaults.self, Methods.self, Train.self])
}

struct ModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The model's JSON specification (input_shape, layers, optionally \"weights\": a safetensors file relative to the spec).")
    var model: String

    @Option(name: .shortAndLong, help: "Instances as CSV, one per row; a first line that is not numeric is a header.")
    var data: String
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explain each row of a CSV file.",
        discussion: "Without --method or --config, Wachter counterfactuals with default settings (`cfx-cli defaults wachter`).")

    @OptionGroup var inputs: ModelOptions

    @Option(help: ArgumentHelp("The method: \(methodList()). Its defaults apply to every key --config leaves out; `cfx-cli methods` lists each method's keys."))
    var method: String?

    @Option(name: .shortAndLong, help: "The method's JSON config: a file, or the JSON itself (e.g. '{\"max_iter\": 500}').")
    var config: String?

    @Option(name: .shortAndLong, help: "table, csv (one row per counterfactual, original and new values), jsonl (one explanation per line) or json (the whole result). Default: table at a terminal, json otherwise.")
    var format: OutputFormat?

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    @OptionGroup(title: "Streaming (Stream.swift)") var stream: StreamOptions

    func run() throws {
        let configText = try methodConfig(method: method, config: config.map(jsonArgument))
        if stream.output != nil { return try stream.run(modelPath: inputs.model, data: inputs.data, config: configText, quiet: quiet) }
        let model = try NativeModel(path: inputs.model)
        let rows = try readCSV(inputs.data, features: model.features)
        var explainer: OpaquePointer?
        try call { cfx_explainer_create(model.handle, configText, &explainer, $0) }
        defer { cfx_explainer_free(explainer) }
        var output: UnsafeMutablePointer<CChar>?
        let progress: cfx_progress_fn? = quiet ? nil : { _, json in
            if let json { printProgress(String(cString: json)) }
            return 0
        }
        defer { if !quiet { FileHandle.standardError.write("\n".data(using: .utf8)!) } }
        try call { cfx_explain_progress(explainer, rows.values, rows.count, model.features, progress, nil, &output, $0) }
        defer { cfx_free(output) }
        try printExplanations(String(cString: output!), rows: rows, names: csvHeader(inputs.data, features: model.features),
                              format: format ?? (isTerminal ? .table : .json))
    }
}

/// "wachter (the default), cfproto, ... or eccco": the library's methods.
private func methodList() -> String {
    guard var names = try? methodNames(), names.count > 1 else { return "see `cfx-cli methods`" }
    if let i = names.firstIndex(of: "wachter") { names[i] += " (the default)" }
    return names.dropLast().joined(separator: ", ") + " or " + names.last!
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the class probabilities of each row of a CSV file.")

    @OptionGroup var inputs: ModelOptions

    @Option(name: .shortAndLong, help: "table, csv (the probabilities, one row per instance), jsonl or json. Default: table at a terminal, csv otherwise.")
    var format: OutputFormat?

    func run() throws {
        let model = try NativeModel(path: inputs.model)
        let rows = try readCSV(inputs.data, features: model.features)
        var proba = [Double](repeating: 0, count: rows.count * model.classes)
        try call { cfx_model_predict(model.handle, rows.values, rows.count, model.features, &proba, $0) }
        printPredictions(proba, rows: rows.count, classes: model.classes, format: format ?? (isTerminal ? .table : .csv))
    }
}

struct Defaults: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a method's default config as JSON.")

    @Argument(help: "The method, e.g. wachter.")
    var method: String

    func run() throws {
        var output: UnsafeMutablePointer<CChar>?
        try call { cfx_default_config(method, &output, $0) }
        defer { cfx_free(output) }
        print(String(cString: output!))
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a native model and write it, with its weights inline, as a JSON spec.",
        discussion: """
            The report (per-epoch loss and accuracy) is printed as JSON on stdout, a progress bar on \
            stderr. `cfx-cli defaults train` lists the config keys.
            """)

    @OptionGroup var inputs: ModelOptions

    @Option(name: .shortAndLong, help: "Targets as CSV: one class index per row (cross_entropy) or one row of values per row (mse). Omit for an autoencoder (mse on the input).")
    var labels: String?

    @Option(name: .shortAndLong, help: "The training config: a file, or the JSON itself (e.g. '{\"epochs\": 20}').")
    var config: String = "{}"

    @Option(name: .shortAndLong, help: "Where to write the trained model's spec.")
    var output: String

    @Flag(name: .shortAndLong, help: "No progress bar.")
    var quiet = false

    func run() throws {
        let model = try NativeModel(path: inputs.model)
        let rows = try readCSV(inputs.data, features: model.features)
        let configText = try jsonArgument(config)
        var targets: [Double]? = nil
        var width = 0
        if let labels {
            let table = try readTable(labels)
            guard table.count == rows.count else {
                throw CFXFailure(description: "\(labels): \(table.count) rows, but \(inputs.data) has \(rows.count)")
            }
            width = table.values.count / max(table.count, 1)
            targets = table.values
        }
        var report: UnsafeMutablePointer<CChar>?
        let progress: cfx_progress_fn? = quiet ? nil : { _, json in
            guard let json else { return 0 }
            printProgress(String(cString: json))
            return 0
        }
        defer { cfx_free(report) }
        do {
            try call { err in
                targets.withOptionalPointer { t in
                    cfx_model_train(model.handle, rows.values, rows.count, model.features, t, width, configText, progress, nil, &report, err)
                }
            }
        } catch {
            if !quiet { FileHandle.standardError.write("\n".data(using: .utf8)!) }
            throw error
        }
        if !quiet { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        var spec: UnsafeMutablePointer<CChar>?
        try call { cfx_model_spec(model.handle, &spec, $0) }
        defer { cfx_free(spec) }
        do {
            try String(cString: spec!).write(toFile: output, atomically: true, encoding: .utf8)
        } catch {
            throw CFXFailure(description: "\(output): cannot write the file (\(error.localizedDescription))")
        }
        print(String(cString: report!))
    }
}

/// One line on stderr, redrawn at every report: a bar and the numbers of a training epoch
/// ({"epoch", "epochs", "loss", ...}) or of a batch of explanations ({"instances_done", ...}).
private func printProgress(_ json: String) {
    guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return }
    let (done, total, unit): (Int, Int, String)
    if let epoch = object["epoch"] as? Int, let epochs = object["epochs"] as? Int {
        // A report during an epoch ("in_progress") counts the epochs completed before it.
        (done, total, unit) = (object["in_progress"] as? Bool == true ? epoch - 1 : epoch, epochs, "epoch")
    } else if let instances = object["instances_done"] as? Int, let all = object["instances_total"] as? Int {
        (done, total, unit) = (instances, all, "instances")
    } else {
        return
    }
    let width = 30, filled = width * done / max(total, 1)
    var line = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(unit) \(done)/\(total)"
    for (key, label) in [("loss", "loss"), ("accuracy", "acc"), ("val_loss", "val_loss"), ("val_accuracy", "val_acc")] {
        if let value = object[key] as? Double { line += String(format: " %@ %.4f", label, value) }
    }
    if let rate = object["rows_per_second"] as? Double { line += String(format: " (%.0f rows/s)", rate) }
    if let batch = object["batches_done"] as? Int, let batches = object["batches"] as? Int { line += " (batch \(batch)/\(batches))" }
    FileHandle.standardError.write(line.data(using: .utf8)!)
}

extension Optional where Wrapped == [Double] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Double>?) -> R) -> R {
        switch self {
        case .some(let values): return values.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}

/// A CSV table of numbers with the same number of columns on every row (a non-numeric first line is a header).
func readTable(_ path: String) throws -> (values: [Double], count: Int) {
    var lines = try readText(path).split(whereSeparator: \.isNewline).map(String.init)
        .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    if let first = lines.first, first.split(separator: ",").contains(where: { Double($0.trimmingCharacters(in: .whitespaces)) == nil }) {
        lines.removeFirst()
    }
    guard let first = lines.first else { throw CFXFailure(description: "\(path): no rows") }
    return try readCSV(path, features: first.split(separator: ",", omittingEmptySubsequences: false).count)
}

// MARK: Helpers

/// A cfx error, printed by ArgumentParser as "Error: <message>" with a non-zero exit.
struct CFXFailure: Error, CustomStringConvertible {
    let description: String
}

func call(_ body: (UnsafeMutablePointer<cfx_error>) -> cfx_status) throws {
    var error = cfx_error()
    if body(&error) != CFX_OK {
        let message = withUnsafeBytes(of: &error.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        throw CFXFailure(description: message)
    }
}

/// A native model handle with its shape, freed with the value.
final class NativeModel {
    let handle: OpaquePointer
    let features: Int
    let classes: Int

    /// Loads a model file through cfx_model_load, so that its "weights" file is found relative to
    /// the spec. Errors already start with the file's path.
    init(path: String) throws {
        var model: OpaquePointer?
        try call { cfx_model_load(path, &model, $0) }
        var d = 0, k = 0
        try call { cfx_model_shape(model, &d, &k, $0) }
        (handle, features, classes) = (model!, d, k)
    }

    deinit { cfx_model_free(handle) }
}

/// An option that is either JSON itself (starting with "{") or the path of a JSON file.
func jsonArgument(_ value: String) throws -> String {
    value.trimmingCharacters(in: .whitespaces).hasPrefix("{") ? value : try readText(value)
}

func readText(_ path: String) throws -> String {
    do {
        return try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw CFXFailure(description: "\(path): cannot read the file (\(error.localizedDescription))")
    }
}

/// Rows of numbers, row-major, checked against the model's width.
func readCSV(_ path: String, features: Int) throws -> (values: [Double], count: Int) {
    var lines = try readText(path).split(whereSeparator: \.isNewline).map(String.init)
        .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    if let first = lines.first, first.split(separator: ",").contains(where: { Double($0.trimmingCharacters(in: .whitespaces)) == nil }) {
        lines.removeFirst()  // a header
    }
    var values: [Double] = []
    for (i, line) in lines.enumerated() {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == features else {
            throw CFXFailure(description: "\(path): row \(i + 1) has \(fields.count) values, the model expects \(features)")
        }
        for (j, field) in fields.enumerated() {
            guard let value = Double(field.trimmingCharacters(in: .whitespaces)) else {
                throw CFXFailure(description: "\(path): row \(i + 1), column \(j + 1): \"\(field)\" is not a number")
            }
            values.append(value)
        }
    }
    guard !lines.isEmpty else { throw CFXFailure(description: "\(path): no rows") }
    return (values, lines.count)
}
