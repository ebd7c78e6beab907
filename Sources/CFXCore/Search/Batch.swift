import Glibc
import Synchronization

/// The number of cores this process may use.
public func availableCores() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// A flag a long run checks between steps, so that a caller can stop it cleanly, and a count of
/// the search iterations done so far, which progress reports show.
public final class Cancellation: Sendable {
    private let flag = Atomic<Bool>(false)
    private let iterationCount = Atomic<Int>(0)
    /// Searches check the flag (and add to `iterations`) once per this many iterations.
    public static let checkInterval = 64

    public init() {}
    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
    public var iterations: Int { iterationCount.load(ordering: .relaxed) }

    /// Throws the cancelled error when the flag is set.
    public func check() throws {
        if isCancelled { throw CFXError(.cancelled, "cancelled") }
    }

    /// Called by a search once per iteration (`iteration` counting from 0): every
    /// `checkInterval` iterations it counts them and checks the flag, so that one long search
    /// stops within a few milliseconds of a cancel.
    @inline(__always)
    public func step(_ iteration: Int) throws {
        if iteration % Self.checkInterval == Self.checkInterval - 1 {
            iterationCount.wrappingAdd(Self.checkInterval, ordering: .relaxed)
            try check()
        }
    }
}

/// How a caller watches and stops a batch: `progress` is called on the calling thread with the
/// number of items done and of search iterations run (at the start, when the items done change but
/// at most every `RunControl.doneInterval` seconds, every `RunControl.reportInterval` seconds while
/// iterations advance, and at the end); returning false cancels the run.
public struct RunControl: @unchecked Sendable {
    public typealias Progress = (_ done: Int, _ total: Int, _ iterations: Int) -> Bool
    public static let reportInterval = 0.25
    /// Reports of finished items are spaced by at least this: a batch of millisecond searches would
    /// otherwise call the caller back hundreds of times a second (a Python or Julia callback takes
    /// the interpreter's lock each time, CPU that the searches lose on a busy machine).
    public static let doneInterval = 0.1
    public let cancellation: Cancellation
    public let progress: Progress?

    public init(progress: Progress? = nil, cancellation: Cancellation = Cancellation()) {
        self.progress = progress
        self.cancellation = cancellation
    }
}

/// Runs `body` for every index in 0..<count on up to `threads` threads (0 = all cores) and returns
/// the results in index order. Every index runs even when another fails; the first failure by
/// index is thrown, prefixed with its instance number. Results do not depend on the thread count.
/// When there are fewer items than threads, each item's network evaluations get the threads left
/// over (`IntraOpThreads`), so that one search on a CNN still uses every core it is given.
///
/// With a progress callback, the calling thread only watches (and calls it) while the workers
/// run, so the callback never runs on a worker thread (which Python's and Julia's need). It sleeps
/// between reports and is woken when the last item is done.
/// A cancelled run throws `CFXError(.cancelled)` saying how many items were done.
public func parallelMap<T>(count: Int, threads: Int, control: RunControl = RunControl(),
                           _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
    let budget = threads > 0 ? threads : availableCores()
    let workers = min(count, budget)
    let intraOp = max(1, budget / max(workers, 1))
    let results = ResultSlots<T>(count: count)
    let next = Atomic<Int>(0)
    let done = Atomic<Int>(0)
    let cancellation = control.cancellation
    let allDone = control.progress == nil ? nil : Signal()
    let work: @Sendable () -> Void = {
        while !cancellation.isCancelled {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { return }
            let result = Result { try IntraOpThreads.with(intraOp) { try body(i) } }
            results.store(i, result)
            // An item its cancellation interrupted is not done.
            if case .failure(let error as CFXError) = result, error.kind == .cancelled { return }
            if done.wrappingAdd(1, ordering: .releasing).newValue == count { allDone?.set() }
        }
    }
    if let progress = control.progress, let allDone {
        try runOnThreads(workers, work, callerWorks: false) {
            var reported = (done: -1, iterations: 0, at: -Double.infinity)
            while true {
                let finished = done.load(ordering: .acquiring)
                let iterations = cancellation.iterations
                let now = monotonicSeconds()
                if (finished != reported.done && (finished == count || now - reported.at >= RunControl.doneInterval))
                    || (iterations != reported.iterations && now - reported.at >= RunControl.reportInterval) {
                    reported = (finished, iterations, now)
                    if !progress(finished, count, iterations) { cancellation.cancel() }
                }
                if finished == count || cancellation.isCancelled { return }
                // Wake for the next report that may be due (or when the last item is done).
                let untilIterationReport = RunControl.reportInterval - (monotonicSeconds() - reported.at)
                allDone.wait(seconds: max(0.001, min(RunControl.doneInterval, untilIterationReport)))
            }
        }
    } else if workers <= 1 {
        work()
    } else {
        try runOnThreads(workers, work)
    }
    if cancellation.isCancelled {
        throw CFXError(.cancelled, "cancelled after \(done.load(ordering: .acquiring)) of \(count) instances")
    }
    return try results.collect()
}

/// Like `parallelMap`, but a failing index gives its error in its slot instead of failing the
/// run, so that one bad row never loses the others. Cancellation still throws for the whole run.
public func parallelMapRecording<T>(count: Int, threads: Int, control: RunControl = RunControl(),
                                    _ body: @escaping @Sendable (Int) throws -> T) throws -> [Result<T, CFXError>] {
    try parallelMap(count: count, threads: threads, control: control) { i -> Result<T, CFXError> in
        do {
            return .success(try body(i))
        } catch let error as CFXError {
            return .failure(error)
        } catch {
            return .failure(CFXError(.internalError, "\(error)"))
        }
    }
}

/// The batch every method runs: checks that `instances` holds `rows` finite rows for `model`, then
/// explains each row on up to `threads` threads under `control`.
public func explainRows<T>(_ instances: [Double], rows: Int, model: Classifier, threads: Int, control: RunControl,
                           _ explain: @escaping @Sendable (_ row: [Double], _ cancellation: Cancellation) throws -> T) throws -> [T] {
    try model.checkShape(count: instances.count, rows: rows, features: model.featureCount)
    try requireFinite(instances, "x")
    let d = model.featureCount
    return try parallelMap(count: rows, threads: threads, control: control) { r in
        try explain(Array(instances[r * d..<(r + 1) * d]), control.cancellation)
    }
}

/// One slot per index, each written by exactly one worker before the threads are joined. The
/// slots live in raw memory rather than an Array, whose mutation from several threads at once is
/// a data race even on different elements (ThreadSanitizer reports it).
private final class ResultSlots<T>: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Result<T, Error>?>
    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }
    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func store(_ i: Int, _ result: Result<T, Error>) { slots[i] = result }

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

/// A flag one thread sets and another waits for, with a timeout (a pthread mutex and condition
/// variable on the monotonic clock, allocated as in `Locked`: pthread objects must not move).
private final class Signal: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var isSet = false  // guarded by `mutex`

    init() {
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func set() {
        pthread_mutex_lock(mutex)
        isSet = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Returns when the flag is set or after about `seconds` (or earlier: callers check again).
    func wait(seconds: Double) {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + Int(seconds * 1e9)
        deadline.tv_sec += nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        pthread_mutex_lock(mutex)
        if !isSet { pthread_cond_timedwait(condition, mutex, &deadline) }
        pthread_mutex_unlock(mutex)
    }
}

private final class ThreadBody {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Runs `work` on `count` POSIX threads and joins them. The calling thread is one of them, or,
/// with `callerWorks` false, runs `watch` instead while they work.
private func runOnThreads(_ count: Int, _ work: @escaping @Sendable () -> Void, callerWorks: Bool = true,
                          watch: () -> Void = {}) throws {
    var threads: [pthread_t] = []
    for _ in (callerWorks ? 1 : 0)..<count {
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
    if callerWorks || threads.isEmpty {
        work()  // no thread could be started: the calling thread does the work itself
    }
    if !callerWorks { watch() }
    for thread in threads { pthread_join(thread, nil) }
}
