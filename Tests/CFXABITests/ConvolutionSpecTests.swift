import XCTest
import CFXCore
import CFXFormats

/// Convolutional layers and spectral normalisation in model specs: round trips and errors.
final class ConvolutionSpecTests: XCTestCase {
    let spec = #"""
    {"input_shape": [1, 6, 6], "layers": [
      {"type": "conv2d", "out_channels": 2, "kernel_size": 3, "padding": 1, "bias": false,
       "spectral_norm": {"coefficient": 0.5}},
      {"type": "leaky_relu"},
      {"type": "residual", "main": [
         {"type": "conv2d", "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1, "spectral_norm": {"coefficient": 4, "power_iterations": 2}}],
       "shortcut": [{"type": "avg_pool2d", "kernel_size": 2}, {"type": "channel_pad", "out_channels": 3}]},
      {"type": "max_pool2d", "kernel_size": 3, "stride": 1, "padding": 1},
      {"type": "global_avg_pool", "name": "features"},
      {"type": "dense", "outputs": 2, "spectral_norm": {"coefficient": 1}},
      {"type": "flatten"},
      {"type": "softmax"}]}
    """#

    func testWrittenSpecReadsBackWithTheSamePowerIterationState() throws {
        let network = try networkFromSpec(try JSON.parse(spec, "spec"))
        for (i, entry) in network.parameterList.enumerated() where entry.spec.role == .trainable {
            for (j, p) in entry.range.enumerated() { network.parameters[p] = sin(Double(7 * i + j)) }
        }
        network.parametersChanged()
        for _ in 0..<3 { network.prepareTrainingStep() }
        let written = try specOfNetwork(network, inlineTensors: true)
        let text = String(cString: try written.serialized())
        let reread = try networkFromSpec(try JSON.parse(text, "written spec"))
        XCTAssertEqual(reread.parameterList.map(\.name), network.parameterList.map(\.name))
        for name in ["layers.0.weight_u", "layers.0.weight_v", "layers.2.main.0.weight_u", "layers.2.main.0.weight_v", "layers.5.weight_u", "layers.5.weight_v"] {
            XCTAssertEqual(Array(reread.parameter(name)!), Array(network.parameter(name)!), name)
        }
        // Derived tensors (normalised weights, σ) are recomputed from the saved ones, to the bit.
        XCTAssertEqual(Array(reread.parameters), Array(network.parameters))
        XCTAssertEqual(reread.outputs, network.outputs)
        let x = (0..<36).map { cos(Double($0)) }
        XCTAssertEqual(try ModelSession(model: reread).predict(x),
                       try ModelSession(model: network).predict(x))
        XCTAssertTrue(text.contains(#""spectral_norm":{"coefficient":4.0,"power_iterations":2}"#) || text.contains(#""spectral_norm":{"coefficient":4,"power_iterations":2}"#), text)
        XCTAssertTrue(text.contains(#""type":"avg_pool2d","kernel_size":2,"stride":2,"padding":0"#), text)
        XCTAssertFalse(text.contains("weight_normalised"), "derived tensors are not saved")
        // Writing the reread network gives the same text.
        XCTAssertEqual(String(cString: try specOfNetwork(reread, inlineTensors: true).serialized()), text)
    }

    func testMistakesNameTheLayer() {
        func fails(_ layers: String, input: String = "[1, 5, 5]", _ mentions: String, line: UInt = #line) {
            XCTAssertThrowsError(try networkFromSpec(try JSON.parse(#"{"input_shape": \#(input), "layers": [\#(layers)]}"#, "spec")), line: line) { error in
                let message = (error as? CFXError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(mentions), "\(message) should mention \(mentions)", line: line)
            }
        }
        fails(#"{"type": "relu"}, {"type": "conv2d", "out_channels": 2, "kernel_size": 0}"#, "layers[1].kernel_size: must be positive, got 0")
        fails(#"{"type": "conv2d", "kernel_size": 3}"#, "layers[0].out_channels: missing")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "stide": 2}"#, "layers[0].stide: unknown key")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "padding": -1}"#, "layers[0].padding: must be at least 0")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "bias": 1}"#, "layers[0].bias")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 9}"#, "layers[0] (conv2d): kernel 9×9 is larger than the padded input 5×5")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 1}"#, input: "[4]", "layers[0] (conv2d): expects an image input")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "spectral_norm": {"coefficient": -1}}"#, "layers[0].spectral_norm.coefficient")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "spectral_norm": {"power_iterations": 1}}"#, "layers[0].spectral_norm.coefficient: missing")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "spectral_norm": {"coefficient": 1, "iters": 1}}"#, "layers[0].spectral_norm.iters")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "spectral_norm": {"coefficient": 1, "power_iterations": 0}}"#, "layers[0].spectral_norm.power_iterations")
        fails(#"{"type": "flatten"}, {"type": "dense", "outputs": 2, "spectral_norm": 4}"#, "layers[1].spectral_norm: expected an object")
        fails(#"{"type": "channel_pad", "out_channels": 0}"#, "layers[0].out_channels: must be positive")
        fails(#"{"type": "conv2d", "out_channels": 4, "kernel_size": 1}, {"type": "channel_pad", "out_channels": 3}"#, "layers[1] (channel_pad): out_channels 3 is smaller")
        fails(#"{"type": "max_pool2d"}"#, "layers[0].kernel_size: missing")
        fails(#"{"type": "avg_pool2d", "kernel_size": 2, "stride": 0}"#, "layers[0].stride: must be positive")
        fails(#"{"type": "max_pool2d", "kernel_size": 2, "padding": 2}"#, "layers[0] (max_pool2d): padding must be at most half the kernel size")
        fails(#"{"type": "max_pool2d", "kernel_size": 7}"#, "layers[0] (max_pool2d): window 7×7 is larger than the padded input 5×5")
        fails(#"{"type": "flatten"}, {"type": "global_avg_pool"}"#, "layers[1] (global_avg_pool): expects an image input")
        fails(#"{"type": "flatten", "out_channels": 2}"#, "layers[0].out_channels: unknown key")
        fails(#"{"type": "conv2d", "out_channels": 2, "kernel_size": 3, "tensors": {"weight": [1, 2]}}"#, "layers[0].tensors.weight: has 2 values, expected 18")
    }
}
