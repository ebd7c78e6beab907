// k-d tree against brute force: build time, query time per k-nearest query, and a check that both
// return the same neighbours.
//
//   cfx-kdtree-bench [--idx train-images-idx3-ubyte --queries t10k-images-idx3-ubyte] [--n-queries 100] [--k 10]
//
// Without --idx it uses uniform random data. Prints one markdown table row per data set.
import CFXCore
import Glibc

func readIDX(_ path: String) -> (values: [Double], rows: Int, features: Int)? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var header = [UInt8](repeating: 0, count: 16)
    guard fread(&header, 1, 16, file) == 16, header[2] == 8, header[3] == 3 else { return nil }
    func be(_ i: Int) -> Int { header[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
    let (n, h, w) = (be(4), be(8), be(12))
    var bytes = [UInt8](repeating: 0, count: n * h * w)
    guard fread(&bytes, 1, bytes.count, file) == bytes.count else { return nil }
    return (bytes.map { Double($0) / 255 }, n, h * w)
}

struct Generator {
    var state: UInt64
    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}

/// A number with `digits` decimals (no Foundation).
func fixed(_ value: Double, _ digits: Int) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([value]) { vsnprintf(&buffer, 64, "%.\(digits)f", $0) }
    return String(cString: buffer)
}

func option(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

let nQueries = Int(option("--n-queries") ?? "100")!
let k = Int(option("--k") ?? "10")!

func bench(_ name: String, _ points: [Double], _ rows: Int, _ d: Int, _ queries: [[Double]]) {
    var start = monotonicSeconds()
    let tree = KDTree(points: points, dimension: d)
    let build = monotonicSeconds() - start
    start = monotonicSeconds()
    let fromTree = queries.map { tree.nearest(to: $0, k: k) }
    let treeSeconds = (monotonicSeconds() - start) / Double(queries.count)
    start = monotonicSeconds()
    let fromScan = queries.map { bruteForceNearest(points: points, dimension: d, to: $0, k: k) }
    let scanSeconds = (monotonicSeconds() - start) / Double(queries.count)
    let same = zip(fromTree, fromScan).allSatisfy { $0 == $1 }
    print("| \(name) | \(rows) × \(d) | \(k) | \(fixed(build, 2)) | \(fixed(treeSeconds * 1000, 3)) | \(fixed(scanSeconds * 1000, 3)) | \(fixed(scanSeconds / treeSeconds, 2))× | \(same ? "yes" : "NO") |")
}

print("| data | points | k | build (s) | tree query (ms) | brute force (ms) | speed-up | same neighbours |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
if let path = option("--idx"), let train = readIDX(path) {
    let test = option("--queries").flatMap(readIDX) ?? train
    let queries = (0..<min(nQueries, test.rows)).map { Array(test.values[$0 * test.features..<($0 + 1) * test.features]) }
    bench("Fashion-MNIST train, test queries", train.values, train.rows, train.features, queries)
} else if option("--idx") != nil {
    print("could not read \(option("--idx")!)")
    exit(1)
}
var rng = Generator(state: 1)
for (rows, d) in [(60_000, 784), (60_000, 30), (60_000, 8)] {
    let points = (0..<rows * d).map { _ in rng.next() }
    let queries = (0..<nQueries).map { _ in (0..<d).map { _ in rng.next() } }
    bench("uniform random", points, rows, d, queries)
}
