import ArgumentParser
import CCFX
import Foundation

@main
struct CFX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cfx",
        abstract: "Counterfactual explanations for classifiers.",
        discussion: "Output is compact JSON; pipe it through `python3 -m json.tool` to indent it.",
        version: String(cString: cfx_version()),
        subcommands: [Explain.self, Predict.self, Defaults.self])
}

struct ModelOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The model's JSON specification (input_shape, layers, optionally \"weights\": a safetensors file relative to the spec).")
    var model: String

    @Option(name: .shortAndLong, help: "Instances as CSV, one per row; a first line that is not numeric is a header.")
    var data: String
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Explain each row of a CSV file and print the explanations as JSON.")

    @OptionGroup var inputs: ModelOptions

    @Option(name: .shortAndLong, help: "The method's JSON config: a file, or the JSON itself (e.g. '{\"method\": \"wachter\"}').")
    var config: String

    func run() throws {
        let model = try NativeModel(path: inputs.model)
        let rows = try readCSV(inputs.data, features: model.features)
        let configText = config.trimmingCharacters(in: .whitespaces).hasPrefix("{") ? config : try readText(config)
        var explainer: OpaquePointer?
        try call { cfx_explainer_create(model.handle, configText, &explainer, $0) }
        defer { cfx_explainer_free(explainer) }
        var output: UnsafeMutablePointer<CChar>?
        try call { cfx_explain(explainer, rows.values, rows.count, model.features, &output, $0) }
        defer { cfx_free(output) }
        print(String(cString: output!))
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the class probabilities of each row of a CSV file.")

    @OptionGroup var inputs: ModelOptions

    func run() throws {
        let model = try NativeModel(path: inputs.model)
        let rows = try readCSV(inputs.data, features: model.features)
        var proba = [Double](repeating: 0, count: rows.count * model.classes)
        try call { cfx_model_predict(model.handle, rows.values, rows.count, model.features, &proba, $0) }
        for r in 0..<rows.count {
            print(proba[r * model.classes..<(r + 1) * model.classes].map { String($0) }.joined(separator: ","))
        }
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
