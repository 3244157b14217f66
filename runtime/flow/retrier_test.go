package flow

import (
	"math"
	"testing"
	"time"
)

func TestRetrierDelay(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name string
		r    Retrier
		n    int
		rnd  float64
		want time.Duration
	}{
		{"first retry waits the interval", Retrier{Interval: 200 * ms, Backoff: 2}, 1, 0, 200 * ms},
		{"second retry grows by backoff", Retrier{Interval: 200 * ms, Backoff: 2}, 2, 0, 400 * ms},
		{"third retry grows again", Retrier{Interval: 200 * ms, Backoff: 2}, 3, 0, 800 * ms},
		{"fractional backoff", Retrier{Interval: time.Second, Backoff: 1.5}, 3, 0, 2250 * ms},
		{"backoff 1 keeps the interval", Retrier{Interval: time.Second, Backoff: 1}, 50, 0, time.Second},
		{"zero interval", Retrier{Backoff: 2}, 4, 0, 0},
		{"max_delay caps growth", Retrier{Interval: 200 * ms, Backoff: 2, MaxDelay: 500 * ms}, 3, 0, 500 * ms},
		{"max_delay below the interval", Retrier{Interval: 2 * time.Second, Backoff: 2, MaxDelay: time.Second}, 1, 0, time.Second},
		{"max_delay above the delay changes nothing", Retrier{Interval: 200 * ms, Backoff: 2, MaxDelay: time.Hour}, 2, 0, 400 * ms},
		{"full jitter scales by rnd", Retrier{Interval: 200 * ms, Backoff: 2, FullJitter: true}, 3, 0.5, 400 * ms},
		{"full jitter applies after the cap", Retrier{Interval: 200 * ms, Backoff: 2, MaxDelay: 500 * ms, FullJitter: true}, 3, 0.5, 250 * ms},
		{"full jitter with rnd 0", Retrier{Interval: time.Second, Backoff: 2, FullJitter: true}, 2, 0, 0},
		{"without jitter rnd is ignored", Retrier{Interval: time.Second, Backoff: 2}, 1, 0.5, time.Second},
		{"growth saturates instead of wrapping", Retrier{Interval: time.Second, Backoff: 2}, 100, 0, math.MaxInt64},
		{"saturated growth with jitter", Retrier{Interval: time.Second, Backoff: 10, FullJitter: true}, 1000, 0.5, math.MaxInt64 / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.Delay(tc.n, tc.rnd)
			// Jitter multiplies a float; allow its rounding, nothing more.
			if math.Abs(float64(got)-float64(tc.want)) > 1024 {
				t.Errorf("Delay(%d, %v) = %v, want %v", tc.n, tc.rnd, got, tc.want)
			}
		})
	}
}

func TestDefaultRetrier(t *testing.T) {
	r := DefaultRetrier
	if r.MaxAttempts != 3 || r.Interval != time.Second || r.Backoff != 2 || r.MaxDelay != 0 || r.FullJitter {
		t.Fatalf("DefaultRetrier = %+v, want SPEC 1.3's 3 attempts, 1s, backoff 2, no cap, no jitter", r)
	}
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if got := r.Delay(n+1, 0); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n+1, got, want)
		}
	}
}

func TestRetrierDelayNeverNegative(t *testing.T) {
	r := Retrier{Interval: time.Second, Backoff: 2}
	for n := 1; n <= 200; n++ {
		if d := r.Delay(n, 0); d < time.Second {
			t.Fatalf("Delay(%d) = %v", n, d)
		}
	}
}
