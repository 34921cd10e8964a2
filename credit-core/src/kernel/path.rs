//! Which batch kernel a [`Kernel`] runs, chosen for the CPU once, when the kernel is built.
//!
//! On x86-64 the batch kernel exists in four builds of the same arithmetic (`kernel::avx2`):
//! compiled for AVX2 or for AVX-512 (F, VL, DQ), each reading its tables either with vector
//! gathers or with four scalar loads per table read. All give bit-identical results (the
//! tests compare them); they differ only in speed, and which is fastest depends on the CPU:
//!
//! - Intel cores since Skylake execute a four-lane gather in a few cycles, so the gathers win
//!   and the AVX-512 build (compares into mask registers, one-instruction blends) wins again.
//! - AMD cores of families 15h (Excavator), 17h (Zen 1, Zen+, Zen 2), 18h (Hygon Dhyana, a
//!   Zen 1) and 19h (Zen 3, Zen 4) run gathers as long microcoded sequences: there the batch
//!   is bound by its sixteen gathers per four rows (issue #16: 16 ms per million rows on an
//!   AVX2-only EPYC, 3.2 times the time it takes to read those rows), while scalar loads go
//!   through the load ports at two or three per cycle. These get the gather-free build (the AVX-512 one
//!   on Zen 4, which has AVX-512).
//! - Other AMD families (1Ah, Zen 5, rebuilt the gather unit) and other vendors keep the
//!   gathers: nothing measured says otherwise.
//!
//! The choice is a field of the kernel, set when it is built ([`KernelPath::detect`]) and
//! changed only through [`crate::Scorecard::with_kernel_path`], which refuses a path this CPU
//! cannot run. No global state: two scorecards in one process may run different paths, which
//! is how the benches and tests compare them.

use super::Kernel;
use std::fmt;
use std::str::FromStr;

/// A batch kernel build. Not a stable API: it exists so that benches and tests can run every
/// path on one machine; users get the one [`KernelPath::detect`] picks.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelPath {
    /// The portable kernel, two rows at a time (every platform).
    Scalar,
    /// AVX2, each table read one vector gather.
    Avx2Gather,
    /// AVX2, each table read four scalar loads (for CPUs with slow gathers).
    Avx2Loads,
    /// The AVX2 code compiled with AVX-512 F, VL and DQ, gathers.
    Avx512Gather,
    /// The AVX2 code compiled with AVX-512 F, VL and DQ, scalar loads.
    Avx512Loads,
}

/// A name [`KernelPath::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kernel path {0:?} (expected one of: scalar, avx2-gather, avx2-loads, avx512-gather, avx512-loads)")]
pub struct UnknownKernelPath(pub String);

impl KernelPath {
    /// Every path, portable first.
    pub const ALL: [KernelPath; 5] = [
        KernelPath::Scalar,
        KernelPath::Avx2Gather,
        KernelPath::Avx2Loads,
        KernelPath::Avx512Gather,
        KernelPath::Avx512Loads,
    ];

    /// The path's name, as [`KernelPath::from_str`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Scalar => "scalar",
            KernelPath::Avx2Gather => "avx2-gather",
            KernelPath::Avx2Loads => "avx2-loads",
            KernelPath::Avx512Gather => "avx512-gather",
            KernelPath::Avx512Loads => "avx512-loads",
        }
    }

    /// Whether this CPU has the instructions the path needs.
    pub fn supported(self) -> bool {
        match self {
            KernelPath::Scalar => true,
            KernelPath::Avx2Gather | KernelPath::Avx2Loads => has_avx2(),
            KernelPath::Avx512Gather | KernelPath::Avx512Loads => has_avx2() && has_avx512(),
        }
    }

    /// The path for this CPU (see the module documentation for the rule and why).
    pub fn detect() -> KernelPath {
        if !has_avx2() {
            return KernelPath::Scalar;
        }
        match (has_avx512(), slow_gathers()) {
            (true, true) => KernelPath::Avx512Loads,
            (true, false) => KernelPath::Avx512Gather,
            (false, true) => KernelPath::Avx2Loads,
            (false, false) => KernelPath::Avx2Gather,
        }
    }
}

impl fmt::Display for KernelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KernelPath {
    type Err = UnknownKernelPath;
    fn from_str(s: &str) -> Result<KernelPath, UnknownKernelPath> {
        KernelPath::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownKernelPath(s.to_owned()))
    }
}

impl Kernel {
    /// Makes the batch paths run `path`; refused (false, nothing changed) when this CPU cannot
    /// run it, so that a kernel's path is always one its CPU has the instructions for (the
    /// vector kernels' `unsafe` calls rely on it).
    pub fn set_path(&mut self, path: KernelPath) -> bool {
        let ok = path.supported();
        if ok {
            self.path = path;
        }
        ok
    }

    /// The batch path this kernel runs.
    pub fn path(&self) -> KernelPath {
        self.path
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
}

/// Whether this is a CPU whose gathers are slower than four scalar loads: AMD (or Hygon)
/// family 15h, 17h, 18h or 19h (see the module documentation).
#[cfg(target_arch = "x86_64")]
fn slow_gathers() -> bool {
    use std::arch::x86_64::__cpuid;
    // Leaf 0: the vendor string in EBX, EDX, ECX. Leaf 1: the family in EAX (the base family
    // in bits 8-11; when that is 0Fh, plus the extended family in bits 20-27).
    // `__cpuid` is a safe function in recent Rust (1.95 here) but unsafe in older releases, and
    // this crate builds from 1.89: the block is needed there and redundant here.
    // SAFETY: every x86-64 CPU has the `cpuid` instruction.
    #[allow(unused_unsafe)]
    let (leaf0, leaf1) = unsafe { (__cpuid(0), __cpuid(1)) };
    let mut vendor = [0u8; 12];
    vendor[..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
    vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
    vendor[8..].copy_from_slice(&leaf0.ecx.to_le_bytes());
    let eax = leaf1.eax;
    let base = (eax >> 8) & 0xf;
    let family = if base == 0xf {
        base + ((eax >> 20) & 0xff)
    } else {
        base
    };
    gathers_slow_on(&vendor, family)
}

/// The rule itself, apart from the `cpuid` that feeds it (so that it can be tested).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn gathers_slow_on(vendor: &[u8; 12], family: u32) -> bool {
    let amd = vendor == b"AuthenticAMD" || vendor == b"HygonGenuine";
    amd && matches!(family, 0x15 | 0x17 | 0x18 | 0x19)
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx2() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
fn slow_gathers() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in KernelPath::ALL {
            assert_eq!(p.name().parse::<KernelPath>(), Ok(p));
        }
        assert_eq!(
            "avx3".parse::<KernelPath>(),
            Err(UnknownKernelPath("avx3".into()))
        );
    }

    #[test]
    fn the_rule_picks_loads_on_zen_only() {
        for family in [0x15, 0x17, 0x18, 0x19] {
            assert!(gathers_slow_on(b"AuthenticAMD", family), "{family:#x}");
        }
        assert!(gathers_slow_on(b"HygonGenuine", 0x18));
        for family in [0x10, 0x16, 0x1a] {
            assert!(!gathers_slow_on(b"AuthenticAMD", family), "{family:#x}");
        }
        assert!(!gathers_slow_on(b"GenuineIntel", 0x19));
        assert!(!gathers_slow_on(b"GenuineIntel", 6));
    }

    #[test]
    fn detect_picks_a_supported_path_and_set_path_refuses_the_rest() {
        assert!(KernelPath::detect().supported());
        let mut k = Kernel::empty(0.0);
        assert_eq!(k.path(), KernelPath::detect());
        for p in KernelPath::ALL {
            let before = k.path();
            assert_eq!(k.set_path(p), p.supported(), "{p}");
            assert_eq!(k.path(), if p.supported() { p } else { before }, "{p}");
        }
        assert!(KernelPath::Scalar.supported());
    }
}
