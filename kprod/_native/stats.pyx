# cython: language_level=3
"""Metric samples and sensors (Java's ``SampledStat`` and ``Sensor``), natively: the
I/O thread records a dozen values per Produce request, which in Python cost about as
much as the rest of the request's bookkeeping.

A :class:`Samples` is one sensor's ring of ``metrics.num.samples`` windows of
``metrics.sample.window.ms``, each with its event count, sum and maximum, plus the
all-time sum. Java keeps one ring per stat, but the stats of one sensor get the same
values at the same times, so their rings are identical: one ring serves the sensor's
average, maximum, rate and total (``kprod._internals.stats``). Every method runs under
the GIL without releasing it, so a reading never sees a half-made update.
"""
cimport cython
from libc.math cimport INFINITY, NAN, floor
from libc.stdlib cimport free, malloc


@cython.final
cdef class Samples:
    cdef double window_ms
    cdef int num            # samples kept
    cdef int used           # samples made so far (<= num)
    cdef int current
    cdef double* starts
    cdef double* counts
    cdef double* sums
    cdef double* maxes
    cdef readonly double total

    def __cinit__(self, double window_ms, int num):
        if window_ms <= 0 or num < 1:
            raise ValueError("Samples need a positive window and at least one sample")
        self.window_ms = window_ms
        self.num = num
        self.starts = <double*>malloc(num * sizeof(double))
        self.counts = <double*>malloc(num * sizeof(double))
        self.sums = <double*>malloc(num * sizeof(double))
        self.maxes = <double*>malloc(num * sizeof(double))
        if not (self.starts and self.counts and self.sums and self.maxes):
            raise MemoryError()

    def __dealloc__(self):
        free(self.starts)
        free(self.counts)
        free(self.sums)
        free(self.maxes)

    @property
    def window(self):
        return self.window_ms

    @property
    def samples(self):
        return self.num

    cdef inline void _reset(self, int i, double now) noexcept:
        self.starts[i] = now
        self.counts[i] = 0
        self.sums[i] = 0
        self.maxes[i] = -INFINITY

    cpdef void record(self, double value, double now) noexcept:
        """Java SampledStat.record: advance to the next sample once the current one is
        a window old (reusing the oldest when all exist)."""
        cdef int i = self.current
        if self.used == 0:
            self.used = 1
            i = self.current = 0
            self._reset(0, now)
        elif now - self.starts[i] >= self.window_ms:
            i = self.current = (i + 1) % self.num
            if i >= self.used:
                self.used = i + 1
            self._reset(i, now)
        self.counts[i] += 1
        self.sums[i] += value
        if value > self.maxes[i]:
            self.maxes[i] = value
        self.total += value

    cdef void _purge(self, double now) noexcept:
        """Forget samples older than num.samples windows (Java purgeObsoleteSamples)."""
        cdef double expire = self.num * self.window_ms
        cdef int i
        for i in range(self.used):
            if now - self.starts[i] >= expire:
                self._reset(i, now)

    def average(self, double now):
        """The retained samples' sum over their count; NaN without any (Java Avg)."""
        self._purge(now)
        cdef double count = 0, total = 0
        cdef int i
        for i in range(self.used):
            count += self.counts[i]
            total += self.sums[i]
        return total / count if count else NAN

    def maximum(self, double now):
        """The retained samples' largest value; NaN without any (Java Max)."""
        self._purge(now)
        cdef double count = 0, best = -INFINITY
        cdef int i
        for i in range(self.used):
            count += self.counts[i]
            if self.maxes[i] > best:
                best = self.maxes[i]
        return best if count else NAN

    def rate(self, double now):
        """Java Rate (per second) over a WindowedSum: the retained sum over the elapsed
        window, a young stat counting as num.samples - 1 full windows."""
        self._purge(now)
        cdef double total = 0, oldest = now, elapsed
        cdef int i
        if self.used == 0:
            self.used = 1
            self.current = 0
            self._reset(0, now)           # Java's oldest(): a fresh sample
        for i in range(self.used):
            total += self.sums[i]
            if self.starts[i] < oldest:
                oldest = self.starts[i]
        elapsed = now - oldest
        cdef double full = floor(elapsed / self.window_ms)   # doubles: no overflow
        if full < self.num - 1:
            elapsed += (self.num - 1 - full) * self.window_ms
        if elapsed < 1:
            elapsed = 1
        return total / (elapsed / 1000.0)

    def sample_count(self):
        return self.used


@cython.final
cdef class Sensor:
    """Records a value into its samples (Java ``Sensor``), if its level is enabled."""
    cdef readonly Samples samples
    cdef public bint enabled
    cdef object clock

    def __cinit__(self, Samples samples, bint enabled, clock):
        self.samples = samples
        self.enabled = enabled
        self.clock = clock

    def record(self, double value=1.0, now=None):
        if self.enabled:
            self.samples.record(value, self.clock() if now is None else <double>now)
