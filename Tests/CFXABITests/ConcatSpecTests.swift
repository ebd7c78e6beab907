import XCTest
import CFXCore
import CFXFormats

/// Concat blocks in model specs: round trips and errors.
final class ConcatSpecTests: XCTestCase {
    let spec = #"""
    {"input_shape": [2, 5, 5], "layers": [
      {"type": "conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
      {"type": "concat", "name": "joined", "branches": [
         [],
         [{"type": "conv2d", "out_channels": 2, "kernel_size": 1}, {"type": "relu"}],
         [{"type": "max_pool2d", "kernel_size": 3, "stride": 1, "padding": 1},
          {"type": "concat", "branches": [[{"type": "conv2d", "out_channels": 1, "kernel_size": 1}], []]}]]},
      {"type": "global_avg_pool"},
      {"type": "flatten"},
      {"type": "dense", "outputs": 3},
      {"type": "softmax"}]}
    """#

    func testWrittenSpecReadsBackTheSameNetwork() throws {
        let network = try networkFromSpec(try JSON.parse(spec, "spec"))
        XCTAssertEqual(try network.outputShape("joined"), [9, 5, 5])  // 3 + 2 + (1 + 3)
        XCTAssertEqual(network.parameterList.map(\.name), [
            "layers.0.weight", "layers.0.bias", "layers.1.branches.1.0.weight", "layers.1.branches.1.0.bias",
            "layers.1.branches.2.1.branches.0.0.weight", "layers.1.branches.2.1.branches.0.0.bias", "layers.4.weight", "layers.4.bias",
        ])
        for (i, entry) in network.parameterList.enumerated() {
            for (j, p) in entry.range.enumerated() { network.parameters[p] = sin(Double(7 * i + j)) }
        }
        network.parametersChanged()
        let text = String(cString: try specOfNetwork(network, inlineTensors: true).serialized())
        XCTAssertTrue(text.contains(#""type":"concat","name":"joined","branches":[[],[{"type":"conv2d""#), text)
        let reread = try networkFromSpec(try JSON.parse(text, "written spec"))
        XCTAssertEqual(reread.parameterList.map(\.name), network.parameterList.map(\.name))
        XCTAssertEqual(Array(reread.parameters), Array(network.parameters))
        XCTAssertEqual(reread.outputs, network.outputs)
        let x = (0..<50).map { cos(Double($0)) }
        XCTAssertEqual(try ModelSession(model: reread).predict(x), try ModelSession(model: network).predict(x))
        XCTAssertEqual(String(cString: try specOfNetwork(reread, inlineTensors: true).serialized()), text)
    }

    func testMistakesNameTheBlock() {
        func fails(_ layers: String, _ mentions: String, line: UInt = #line) {
            XCTAssertThrowsError(try networkFromSpec(try JSON.parse(#"{"input_shape": [2, 4, 4], "layers": [\#(layers)]}"#, "spec")), line: line) { error in
                let message = (error as? CFXError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(mentions), "\(message) should mention \(mentions)", line: line)
            }
        }
        fails(#"{"type": "concat"}"#, "layers[0].branches: missing")
        fails(#"{"type": "concat", "branches": [[]]}"#, "layers[0].branches: a concat block needs at least two branches, got 1")
        fails(#"{"type": "concat", "branches": [[], {"type": "relu"}]}"#, "layers[0].branches[1]")
        fails(#"{"type": "concat", "branches": [[], [{"type": "max_pool2d", "kernel_size": 2}]]}"#, "layers[0] (concat): branch 1 gives [2, 2, 2], branch 0 [2, 4, 4]")
        fails(#"{"type": "concat", "branches": [[], [{"type": "conv2d", "out_channels": 2}]]}"#, "layers[0].branches[1][0].kernel_size: missing")
        fails(#"{"type": "concat", "branches": [[], []], "main": []}"#, "layers[0].main: unknown key")
    }
}
