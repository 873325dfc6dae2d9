"""Rust support code: the rand 0.4 API shim, the case-reporting module and macros, and the
once-per-toolchain build of the crates the HumanEval-X prompts use (`use rand::Rng; use
regex::Regex; use md5;`).

The reference Cargo.toml asks for rand 0.4, and the tests use its API (`gen_range(a, b)`,
`rng.gen()`, `rand::random()`); Debian ships rand 0.8, so rand is this shim. regex and md5
are Debian's sources (librust-regex-dev, librust-md5-dev) compiled offline with rustc.
The shim's generator is seeded deterministically, so verdicts (and the result cache) are
reproducible.
"""

RAND_SHIM = r"""
//! A compact implementation of the rand 0.4 API surface (offline, dependency-free).
#![allow(dead_code, deprecated)]
use std::cell::RefCell;
use std::rc::Rc;

pub trait RngCore {}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E3779B97F4A7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// Types a generator can produce with `gen()` / `random()`.
pub trait Rand: Sized { fn rand<R: Rng + ?Sized>(rng: &mut R) -> Self; }
macro_rules! rand_int { ($($t:ty),*) => { $( impl Rand for $t { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { r.next_u64() as $t } } )* } }
rand_int!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);
impl Rand for u128 { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { ((r.next_u64() as u128) << 64) | r.next_u64() as u128 } }
impl Rand for i128 { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { u128::rand(r) as i128 } }
impl Rand for f64 { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { r.next_f64() } }
impl Rand for f32 { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { r.next_f32() } }
impl Rand for bool { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { r.next_u32() & 1 == 1 } }
impl Rand for char {
    fn rand<R: Rng + ?Sized>(r: &mut R) -> Self {
        loop { if let Some(c) = std::char::from_u32(r.next_u32() % 0x11_0000) { return c; } }
    }
}
impl<A: Rand, B: Rand> Rand for (A, B) { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { (A::rand(r), B::rand(r)) } }
impl<A: Rand, B: Rand, C: Rand> Rand for (A, B, C) { fn rand<R: Rng + ?Sized>(r: &mut R) -> Self { (A::rand(r), B::rand(r), C::rand(r)) } }

/// Types `gen_range(low, high)` accepts (half-open, as in rand 0.4).
pub trait SampleRange: PartialOrd + Sized { fn sample_range<R: Rng + ?Sized>(low: Self, high: Self, r: &mut R) -> Self; }
macro_rules! range_int { ($($t:ty => $u:ty),*) => { $(
    impl SampleRange for $t {
        fn sample_range<R: Rng + ?Sized>(low: Self, high: Self, r: &mut R) -> Self {
            let span = (high as $u).wrapping_sub(low as $u) as u128;
            if span == 0 { return low; }
            let v = (((r.next_u64() as u128) << 64) | r.next_u64() as u128) % span;
            (low as $u).wrapping_add(v as $u) as $t
        }
    }
)* } }
range_int!(u8 => u8, u16 => u16, u32 => u32, u64 => u64, usize => usize, i8 => u8, i16 => u16, i32 => u32, i64 => u64, isize => usize);
impl SampleRange for f64 { fn sample_range<R: Rng + ?Sized>(l: Self, h: Self, r: &mut R) -> Self { l + (h - l) * r.next_f64() } }
impl SampleRange for f32 { fn sample_range<R: Rng + ?Sized>(l: Self, h: Self, r: &mut R) -> Self { l + (h - l) * r.next_f32() } }

pub trait Rng {
    fn next_u32(&mut self) -> u32 { self.next_u64() as u32 }
    fn next_u64(&mut self) -> u64;
    fn next_f32(&mut self) -> f32 { (self.next_u32() >> 8) as f32 / (1u32 << 24) as f32 }
    fn next_f64(&mut self) -> f64 { (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 }
    fn fill_bytes(&mut self, dest: &mut [u8]) { for b in dest.iter_mut() { *b = self.next_u32() as u8; } }
    fn gen<T: Rand>(&mut self) -> T where Self: Sized { T::rand(self) }
    fn gen_iter<T: Rand>(&mut self) -> Generator<'_, T, Self> where Self: Sized { Generator { rng: self, _m: std::marker::PhantomData } }
    fn gen_range<T: SampleRange>(&mut self, low: T, high: T) -> T where Self: Sized {
        assert!(low < high, "Rng.gen_range called with low >= high");
        T::sample_range(low, high, self)
    }
    fn gen_weighted_bool(&mut self, n: u32) -> bool where Self: Sized { n <= 1 || self.gen_range(0, n) == 0 }
    fn gen_bool(&mut self, p: f64) -> bool where Self: Sized { self.next_f64() < p }
    fn gen_ascii_chars(&mut self) -> AsciiGenerator<'_, Self> where Self: Sized { AsciiGenerator { rng: self } }
    fn choose<'a, T>(&mut self, values: &'a [T]) -> Option<&'a T> where Self: Sized {
        if values.is_empty() { None } else { Some(&values[self.gen_range(0, values.len())]) }
    }
    fn choose_mut<'a, T>(&mut self, values: &'a mut [T]) -> Option<&'a mut T> where Self: Sized {
        if values.is_empty() { None } else { let i = self.gen_range(0, values.len()); Some(&mut values[i]) }
    }
    fn shuffle<T>(&mut self, values: &mut [T]) where Self: Sized {
        let mut i = values.len();
        while i >= 2 { i -= 1; let j = self.gen_range(0, i + 1); values.swap(i, j); }
    }
}

pub struct Generator<'a, T, R: 'a> { rng: &'a mut R, _m: std::marker::PhantomData<T> }
impl<'a, T: Rand, R: Rng> Iterator for Generator<'a, T, R> { type Item = T; fn next(&mut self) -> Option<T> { Some(self.rng.gen()) } }
pub struct AsciiGenerator<'a, R: 'a> { rng: &'a mut R }
impl<'a, R: Rng> Iterator for AsciiGenerator<'a, R> {
    type Item = char;
    fn next(&mut self) -> Option<char> {
        const C: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Some(*self.rng.choose(C).unwrap() as char)
    }
}

pub trait SeedableRng<Seed>: Rng { fn reseed(&mut self, seed: Seed); fn from_seed(seed: Seed) -> Self; }

#[derive(Clone, Debug)]
pub struct StdRng { s: u64 }
impl StdRng { pub fn new() -> std::io::Result<StdRng> { Ok(StdRng { s: 0x2545F4914F6CDD1D }) } }
impl Rng for StdRng { fn next_u64(&mut self) -> u64 { splitmix(&mut self.s) } }
impl<'a> SeedableRng<&'a [usize]> for StdRng {
    fn reseed(&mut self, seed: &'a [usize]) { *self = Self::from_seed(seed); }
    fn from_seed(seed: &'a [usize]) -> StdRng { let mut s = 0x853C49E6748FEA9Bu64; for &x in seed { s = splitmix(&mut (s ^ x as u64)); } StdRng { s } }
}
impl SeedableRng<u64> for StdRng {
    fn reseed(&mut self, seed: u64) { self.s = seed; }
    fn from_seed(seed: u64) -> StdRng { StdRng { s: seed } }
}
pub type XorShiftRng = StdRng;
pub type IsaacRng = StdRng;
pub type ChaChaRng = StdRng;
pub type OsRng = StdRng;
pub type SmallRng = StdRng;

#[derive(Clone, Debug)]
pub struct ThreadRng { rng: Rc<RefCell<StdRng>> }
thread_local!(static THREAD_RNG: Rc<RefCell<StdRng>> = Rc::new(RefCell::new(StdRng { s: 0x5DEECE66D })));
pub fn thread_rng() -> ThreadRng { ThreadRng { rng: THREAD_RNG.with(|t| t.clone()) } }
impl Rng for ThreadRng { fn next_u64(&mut self) -> u64 { self.rng.borrow_mut().next_u64() } }
pub fn random<T: Rand>() -> T { thread_rng().gen() }
pub fn weak_rng() -> StdRng { StdRng { s: 0x9E3779B9 } }
pub fn sample<T, I: IntoIterator<Item = T>, R: Rng>(rng: &mut R, iterable: I, amount: usize) -> Vec<T> {
    let mut it = iterable.into_iter();
    let mut out: Vec<T> = it.by_ref().take(amount).collect();
    let mut i = amount;
    for elem in it { let k = rng.gen_range(0, i + 1); if k < amount { out[k] = elem; } i += 1; }
    out
}

pub mod distributions {
    use super::{Rng, SampleRange};
    pub trait Sample<Support> { fn sample<R: Rng>(&mut self, rng: &mut R) -> Support; }
    pub trait IndependentSample<Support>: Sample<Support> { fn ind_sample<R: Rng>(&self, rng: &mut R) -> Support; }
    #[derive(Clone, Copy, Debug)]
    pub struct Range<X> { low: X, high: X }
    impl<X: SampleRange + PartialOrd + Copy> Range<X> { pub fn new(low: X, high: X) -> Range<X> { assert!(low < high); Range { low, high } } }
    impl<X: SampleRange + PartialOrd + Copy> Sample<X> for Range<X> { fn sample<R: Rng>(&mut self, rng: &mut R) -> X { self.ind_sample(rng) } }
    impl<X: SampleRange + PartialOrd + Copy> IndependentSample<X> for Range<X> { fn ind_sample<R: Rng>(&self, rng: &mut R) -> X { X::sample_range(self.low, self.high, rng) } }
}
pub mod prelude { pub use super::{random, thread_rng, Rng, SeedableRng, StdRng}; }
pub mod rngs { pub use super::{StdRng, ThreadRng, OsRng, SmallRng}; }
pub mod seq {}
"""

# Case reporting: `__wb_assert!(i, ...)` and friends wrap the standard macros; a panic while
# evaluating the operands is an error, a false comparison a failure.
WB_MACROS = r"""
#[allow(unused_macros)]
macro_rules! __wb_assert {
    ($id:expr, $cond:expr $(,)?) => { { let mut __f = Some(|| -> bool { $cond }); crate::__wb::case($id, &mut || (__f.take().unwrap())()) } };
    ($id:expr, $cond:expr, $($arg:tt)+) => { { let mut __f = Some(|| -> bool { $cond }); crate::__wb::case($id, &mut || (__f.take().unwrap())()) } };
}
#[allow(unused_macros)]
macro_rules! __wb_assert_eq {
    ($id:expr, $l:expr, $r:expr $(,)?) => { { let mut __f = Some(|| -> bool { match (&$l, &$r) { (l, r) => *l == *r } }); crate::__wb::case($id, &mut || (__f.take().unwrap())()) } };
    ($id:expr, $l:expr, $r:expr, $($arg:tt)+) => { { let mut __f = Some(|| -> bool { match (&$l, &$r) { (l, r) => *l == *r } }); crate::__wb::case($id, &mut || (__f.take().unwrap())()) } };
}
#[allow(unused_macros)]
macro_rules! __wb_assert_ne {
    ($id:expr, $l:expr, $r:expr $(,)?) => { { let mut __f = Some(|| -> bool { match (&$l, &$r) { (l, r) => *l != *r } }); crate::__wb::case($id, &mut || (__f.take().unwrap())()) } };
    ($id:expr, $l:expr, $r:expr, $($arg:tt)+) => { { let mut __f = Some(|| -> bool { match (&$l, &$r) { (l, r) => *l != *r } }); crate::__wb::case($id, &mut || (__f.take().unwrap())()) } };
}
"""

WB_MODULE = r"""
#[allow(dead_code)]
mod __wb {
    pub const TESTS: usize = __WB_TESTS__;
    use std::io::Write;
    use std::sync::Mutex;
    use std::collections::HashMap;
    struct St { start: usize, last: Option<usize>, ended: bool, rep: HashMap<usize, bool> }
    static ST: Mutex<Option<St>> = Mutex::new(None);
    fn emit(s: &str) {
        use std::os::unix::io::FromRawFd;
        let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(3) });
        let mut line: String = s.replace('\n', " ").chars().take(400).collect();
        line.push('\n');
        let _ = f.write_all(line.as_bytes());
    }
    fn with<T>(f: impl FnOnce(&mut St) -> T) -> T {
        let mut g = ST.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            let start = std::env::var("WB_START").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
            *g = Some(St { start, last: None, ended: true, rep: HashMap::new() });
        }
        f(g.as_mut().unwrap())
    }
    fn end(id: usize, st: &str, d: &str) {
        let ok = st == "pass";
        let report = with(|s| {
            let r = match s.rep.get(&id) { None => { s.rep.insert(id, ok); true }, Some(true) if !ok => { s.rep.insert(id, false); true }, _ => false };
            if r { s.ended = true; }
            r
        });
        if report { emit(&format!("E {} {} {}", id, st, d)); }
    }
    pub fn case(id: usize, f: &mut dyn FnMut() -> bool) {
        let go = with(|s| {
            if id < s.start { return false; }
            if s.last != Some(id) || s.ended { s.last = Some(id); s.ended = false; emit(&format!("B {}", id)); }
            true
        });
        if !go { return; }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f())) {
            Ok(true) => end(id, "pass", ""),
            Ok(false) => end(id, "fail", "assertion failed"),
            Err(e) => {
                let msg = e.downcast_ref::<&str>().map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned()).unwrap_or_else(|| "panic".to_string());
                end(id, "error", &format!("panicked: {}", msg));
            }
        }
    }
    // "D 0" once every test function of the test part has returned normally (`TESTS` of them:
    // set per build); a panic or an exit before that leaves the program not done
    static FINISHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    pub struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            if !std::thread::panicking() && FINISHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == TESTS {
                emit("D 0");
            }
        }
    }
    extern "C" { fn signal(sig: i32, handler: usize) -> usize; }
    /// A batched program's entry (called from its binary's `main`): runs its tests as libtest
    /// does with one thread (each on a fresh thread named after it, one after the other), in
    /// source order; exit status 101 when one failed.
    pub fn run(tests: &[(&str, fn())]) -> i32 {
        unsafe { signal(13, 1); }  // SIGPIPE ignored, as Rust's own runtime start does
        let mut failed = false;
        for (name, f) in tests {
            let f = *f;
            match std::thread::Builder::new().name(name.to_string()).spawn(f) {
                Ok(h) => failed |= h.join().is_err(),
                Err(_) => failed = true,
            }
        }
        let _ = std::io::stdout().flush();
        if failed { 101 } else { emit("D 0"); 0 }
    }
}
"""
