import CFXFormats
import Glibc
import XCTest

/// The JSON writer of every output: its text is valid JSON that jansson reads back to the same
/// values, every double bit for bit, in its shortest form.
final class JSONWriterTests: XCTestCase {
    private func text(_ value: JSON, indent: Int = 0) throws -> String {
        let pointer = try value.serialized(indent: indent)
        defer { free(pointer) }
        return String(cString: pointer)
    }

    private func readBack(_ value: JSON, indent: Int = 0) throws -> JSON {
        try text(value, indent: indent).withCString { try JSON.parse($0, "written") }
    }

    private func doubles(_ json: JSON) -> [Double?] {
        guard case .array(let items) = json else { return [] }
        return items.map { if case .double(let d) = $0 { return d } else { return nil } }
    }

    func testEveryDoubleReadsBackBitForBit() throws {
        var generator = SystemRandomNumberGenerator()
        let special: [Double] = [0, -0.0, 0.1, 1, -1, 1e16, 1e15, 1e-5, 1e-4, 123, .ulpOfOne, .leastNonzeroMagnitude,
                                 .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                 9007199254740993, 0.30000000000000004, 2.5e-300]
        var values = special
        while values.count < 20000 {
            let d = Double(bitPattern: generator.next())
            if d.isFinite { values.append(d) }
        }
        values += (0..<2000).map { _ in Double.random(in: -1...1, using: &generator) }
        let read = doubles(try readBack(.array(values.map { .double($0) })))
        XCTAssertEqual(read.count, values.count)
        for (written, back) in zip(values, read) where back?.bitPattern != written.bitPattern {
            XCTFail("\(written) came back as \(String(describing: back))")
        }
    }

    func testTextIsSwiftsDescriptionAtEveryMagnitude() throws {
        var generator = SystemRandomNumberGenerator()
        var values: [Double] = [0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 1, 2, 10, 100, 1e15, 1e16, 1e17 - 16, 9007199254740992,
                                9007199254740993, 4503599627370496.5, 0.5, 0.25, 1e-4, 1e-5, 123456.789, 5e-11, 1.5e-10]
        for e in -40...70 {
            values += [pow(2, Double(e)), pow(2, Double(e)).nextUp, pow(2, Double(e)).nextDown, pow(10, Double(e / 3))]
        }
        for _ in 0..<100_000 {
            let v = Double.random(in: 1..<2, using: &generator) * pow(2, Double(Int.random(in: -45...65, using: &generator)))
            values += [v, -v, (v * 1e6).rounded() / 1e6]
        }
        let text = try self.text(.array(values.map { .double($0) }))
        let written = text.dropFirst().dropLast().split(separator: ",").map(String.init)
        let different = zip(values, written).filter { "\($0.0)" != $0.1 }
        XCTAssertEqual(written.count, values.count)
        XCTAssert(different.isEmpty, "\(different.count) differ from description, e.g. \(different.prefix(5).map { "\($0.0) (\($0.0.bitPattern)) as \($0.1)" })")
        let read = doubles(try text.withCString { try JSON.parse($0, "written") })
        XCTAssertEqual(read.map { $0?.bitPattern }, values.map { $0.bitPattern })
    }

    func testNumbersAreShortestAndAlwaysReals() throws {
        let values: [Double] = [0.1, 1, 1e16, 1e-5, -0.0, 100, 0.30000000000000004]
        XCTAssertEqual(try text(.array(values.map { .double($0) })),
                       "[0.1,1.0,1e+16,1e-05,-0.0,100.0,0.30000000000000004]")
        XCTAssertEqual(try text(.array([.int(0), .int(-7), .int(Int.max), .int(Int.min)])),
                       "[0,-7,9223372036854775807,-9223372036854775808]")
        guard case .array(let ints) = try readBack(.array([.int(Int.min), .int(Int.max)])),
              case .int(let low) = ints[0], case .int(let high) = ints[1] else { return XCTFail("integers did not come back") }
        XCTAssertEqual([low, high], [Int.min, Int.max])
    }

    func testNonFiniteNumbersAreNull() throws {
        XCTAssertEqual(try text(.array([.double(.nan), .double(.infinity), .double(-.infinity), .double(-.nan)])),
                       "[null,null,null,null]")
    }

    func testStringsAreEscaped() throws {
        let strings = ["plain", "quote \" backslash \\ slash /", "lines\n\r\ttab", "\u{01}\u{08}\u{0C}\u{1F}\u{7F}", "é ü 中 🙂", ""]
        XCTAssertEqual(try text(.string("a\"b\\c\n\u{01}\u{00}")), #""a\"b\\c\n\u0001\u0000""#)
        guard case .array(let back) = try readBack(.array(strings.map { .string($0) })) else { return XCTFail("not an array") }
        XCTAssertEqual(back.map { if case .string(let s) = $0 { return s } else { return "?" } }, strings)
    }

    func testObjectsKeepTheirOrderAndIndentReadsBack() throws {
        let value = JSON.object([("z", .int(1)), ("a", .array([])), ("m", .object([])),
                                 ("n", .array([.double(0.5), .null, .bool(true), .object([("k", .bool(false))])]))])
        XCTAssertEqual(try text(value), #"{"z":1,"a":[],"m":{},"n":[0.5,null,true,{"k":false}]}"#)
        XCTAssertEqual(try text(.object([("a", .array([.int(1), .int(2)]))]), indent: 2), "{\n  \"a\": [\n    1,\n    2\n  ]\n}")
        XCTAssertEqual(try text(try readBack(value, indent: 4)), try text(value))
    }

    func testLargeOutputGrowsTheBuffer() throws {
        let values = (0..<300_000).map { JSON.double(Double($0) / 7) }
        let written = try text(.array(values))
        XCTAssertGreaterThan(written.utf8.count, 1 << 20)
        XCTAssertEqual(doubles(try written.withCString { try JSON.parse($0, "large") }).compactMap { $0 }.count, values.count)
    }
}
