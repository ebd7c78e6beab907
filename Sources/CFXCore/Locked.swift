import Glibc

/// A value guarded by a pthread mutex, for state that several threads share.
///
/// Why not the standard library's `Synchronization.Mutex`: on Linux its contended path (a
/// priority-inheritance futex in the standard library, which is not built with ThreadSanitizer)
/// is invisible to ThreadSanitizer, so every time two threads contend for one, TSan reports the
/// value it guards as raced, and a real race would hide among those reports. pthread_mutex_lock is
/// intercepted by the sanitizers, so they see this lock.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init(_ value: Value) {
        self.value = value
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` on the value with the lock held.
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
