import Glibc
import Synchronization

/// Threads that one evaluator's layers share to split a large product or an im2col across cores,
/// so that a single search (one DeDUCE counterfactual on a CNN) uses every core it is given.
///
/// `run(tasks:)` hands out task indices to the calling thread and the pool's threads and returns
/// when all are done. Which thread runs a task never changes a result: callers split work into
/// tasks by sizes alone, never by the thread count. Workers spin briefly between runs (the layers of
/// one pass follow each other within microseconds), then sleep.
public final class IntraOpPool: @unchecked Sendable {
    /// Threads working in a run, the caller's included.
    public var threads: Int { workers.count + 1 }
    private var workers: [pthread_t] = []
    // Allocated, as in `Locked`: a pthread object must not move, and `&property` promises no
    // stable address.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Bumped for each run (and for shutdown); workers compare it with the last one they served.
    private let generation = Atomic<Int>(0)
    private let nextTask = Atomic<Int>(0)
    private let doneTasks = Atomic<Int>(0)
    private let busyWorkers = Atomic<Int>(0)
    // Guarded by `mutex`.
    private var job: ((Int) -> Void)?
    private var taskCount = 0
    private var stopping = false

    /// A pool of `threads` threads in all (the caller is one of them); fewer when threads cannot be
    /// started, never an error.
    public init(threads: Int) {
        mutex.initialize(to: pthread_mutex_t())
        wake.initialize(to: pthread_cond_t())
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        // Workers hold the pool unretained (a retain would keep it alive forever); deinit joins
        // them before its memory goes.
        let context = Unmanaged.passUnretained(self).toOpaque()
        for _ in 0..<max(0, threads - 1) {
            var thread = pthread_t()
            guard pthread_create(&thread, nil, { context in
                Unmanaged<IntraOpPool>.fromOpaque(context!)._withUnsafeGuaranteedRef { $0.work() }
                return nil
            }, context) == 0 else { break }
            workers.append(thread)
        }
    }

    deinit {
        pthread_mutex_lock(mutex)
        stopping = true
        generation.wrappingAdd(1, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for worker in workers { pthread_join(worker, nil) }
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(mutex)
        wake.deallocate()
        mutex.deallocate()
    }

    /// Runs body(0) … body(tasks − 1), each once, on the pool's threads; returns when all are done.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        if workers.isEmpty || tasks <= 1 {
            for i in 0..<tasks { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            pthread_mutex_lock(mutex)
            job = body
            taskCount = tasks
            nextTask.store(0, ordering: .relaxed)
            doneTasks.store(0, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .releasing)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
            runTasks(body, tasks)
            while doneTasks.load(ordering: .acquiring) < tasks { spinPause() }
            // No worker may pick the job up after this, and none may still be inside it on return.
            pthread_mutex_lock(mutex)
            job = nil
            pthread_mutex_unlock(mutex)
            while busyWorkers.load(ordering: .acquiring) > 0 { spinPause() }
        }
    }

    private func runTasks(_ body: (Int) -> Void, _ count: Int) {
        while true {
            let i = nextTask.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { return }
            body(i)
            doneTasks.wrappingAdd(1, ordering: .releasing)
        }
    }

    private func work() {
        var served = 0
        while true {
            // Spin a little: the next run usually comes within microseconds.
            var spins = 0
            while generation.load(ordering: .acquiring) == served && spins < 2_000 {
                spinPause()
                spins += 1
            }
            pthread_mutex_lock(mutex)
            while generation.load(ordering: .acquiring) == served && !stopping {
                pthread_cond_wait(wake, mutex)
            }
            if stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            served = generation.load(ordering: .acquiring)
            if serveRun() { busyWorkers.wrappingSubtract(1, ordering: .releasing) }
        }
    }

    /// With the mutex held: takes the current job, if any, unlocks and runs its tasks. Returns
    /// whether it ran (and counted itself busy). The job's last reference held here is gone when
    /// it returns, before the worker says it is no longer busy: `run` checks that no reference to
    /// its non-escaping closure outlives it.
    @inline(never)
    private func serveRun() -> Bool {
        guard let body = job else {
            pthread_mutex_unlock(mutex)
            return false
        }
        let count = taskCount
        busyWorkers.wrappingAdd(1, ordering: .relaxed)
        pthread_mutex_unlock(mutex)
        runTasks(body, count)
        return true
    }
}

/// Gives the core away while waiting: on a machine with as many threads as cores this costs a
/// system call, and never starves the thread being waited for.
@inline(__always) private func spinPause() { sched_yield() }

/// How many threads a search on the calling thread may use inside its network evaluations. Batch
/// runners set it on their worker threads (the threads left over when a batch has fewer rows than
/// threads); `Network.makeEvaluator()` reads it. 1 unless set.
public enum IntraOpThreads {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    public static var current: Int {
        min(max(Int(bitPattern: pthread_getspecific(key)), 1), 4096)
    }

    /// Runs `body` with `current` set to `threads` on this thread.
    public static func with<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        let saved = pthread_getspecific(key)
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: max(1, threads)))
        defer { pthread_setspecific(key, saved) }
        return try body()
    }
}
