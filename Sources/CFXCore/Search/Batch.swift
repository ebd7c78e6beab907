import Glibc
import Synchronization

/// The number of cores this process may use.
public func availableCores() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// Runs `body` for every index in 0..<count on up to `threads` threads (0 = all cores) and returns
/// the results in index order. Every index runs even when another fails; the first failure by
/// index is thrown, prefixed with its instance number. Results do not depend on the thread count.
public func parallelMap<T>(count: Int, threads: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
    let workers = min(count, threads > 0 ? threads : availableCores())
    let results = ResultSlots<T>(count: count)
    let next = Atomic<Int>(0)
    let work: @Sendable () -> Void = {
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { return }
            results.store(i, Result { try body(i) })
        }
    }
    if workers <= 1 {
        work()
    } else {
        try runOnThreads(workers, work)
    }
    return try results.collect()
}

/// One slot per index, each written by exactly one worker before the threads are joined.
private final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [Result<T, Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ i: Int, _ result: Result<T, Error>) {
        slots.withUnsafeMutableBufferPointer { $0[i] = result }
    }

    func collect() throws -> [T] {
        try slots.enumerated().map { i, slot in
            switch slot {
            case .success(let value)?: return value
            case .failure(let error as CFXError)?: throw error.prefixed("instance \(i)")
            case .failure(let error)?: throw CFXError(.internalError, "instance \(i): \(error)")
            case nil: throw CFXError(.internalError, "instance \(i) was not run")
            }
        }
    }
}

private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Runs `work` on `count` POSIX threads (the calling thread is one of them) and joins them.
private func runOnThreads(_ count: Int, _ work: @escaping @Sendable () -> Void) throws {
    var threads: [pthread_t] = []
    for _ in 1..<count {
        let context = Unmanaged.passRetained(ThreadBody(work)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            let body = Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        if status == 0 {
            threads.append(thread)
        } else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            break  // fewer threads than asked: the ones running (and this one) still do all the work
        }
    }
    work()
    for thread in threads { pthread_join(thread, nil) }
}
