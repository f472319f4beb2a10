//! The 16 KB checks on a finished APK: every `lib/<abi>/*.so` must be an ELF for that ABI
//! whose LOAD segments are aligned for the ABI's largest page size (16 KiB on 64-bit ABIs,
//! 4 KiB on 32-bit ones), stored uncompressed (the manifest says `extractNativeLibs=false`:
//! the loader maps them straight from the APK) at a 16 KiB-aligned offset; every other
//! stored entry 4-aligned. These are the rules of Google Play's 16 KB requirement, of
//! `zipalign -P 16 -f 4` (build-tools ≥ 35) and of the NDK's `check_elf_alignment.sh`.
//!
//! Reads headers only: the ELF program headers and the zip local headers.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config::AndroidAbi;

/// Alignment of uncompressed `.so` entries in the zip (`zipalign -P 16`).
pub const SO_ZIP_ALIGN: u64 = 16 * 1024;
/// Alignment of every other uncompressed entry (`zipalign 4`).
pub const ZIP_ALIGN: u64 = 4;

/// The largest page size a device of this ABI may use, hence the LOAD alignment its
/// libraries need: Android 15+ 64-bit devices may run 16 KiB pages; 32-bit ones never do.
pub fn page_size(abi: AndroidAbi) -> u64 {
    match abi {
        AndroidAbi::Arm64V8a | AndroidAbi::X86_64 => 16 * 1024,
        AndroidAbi::ArmeabiV7a | AndroidAbi::X86 => 4 * 1024,
    }
}

/// `e_machine` of the ABI's ELF files.
fn machine(abi: AndroidAbi) -> u16 {
    match abi {
        AndroidAbi::Arm64V8a => 183,  // EM_AARCH64
        AndroidAbi::ArmeabiV7a => 40, // EM_ARM
        AndroidAbi::X86_64 => 62,     // EM_X86_64
        AndroidAbi::X86 => 3,         // EM_386
    }
}

fn is_64bit(abi: AndroidAbi) -> bool {
    matches!(abi, AndroidAbi::Arm64V8a | AndroidAbi::X86_64)
}

/// The ABI a `lib/<abi>/` directory name stands for.
pub fn abi_from_name(name: &str) -> Option<AndroidAbi> {
    [
        AndroidAbi::Arm64V8a,
        AndroidAbi::ArmeabiV7a,
        AndroidAbi::X86_64,
        AndroidAbi::X86,
    ]
    .into_iter()
    .find(|a| a.name() == name)
}

/// One PT_LOAD program header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    pub offset: u64,
    pub vaddr: u64,
    pub align: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf {
    pub class64: bool,
    pub machine: u16,
    pub loads: Vec<Load>,
}

impl Elf {
    /// The smallest LOAD alignment (what a page-size check is about).
    pub fn min_load_align(&self) -> Option<u64> {
        self.loads.iter().map(|l| l.align).min()
    }
}

/// Parse the ELF header and program headers (little-endian only: every Android ABI is).
pub fn parse_elf(b: &[u8]) -> Result<Elf, String> {
    if b.len() < 52 || &b[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let class64 = match b[4] {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    if b[5] != 1 {
        return Err("big-endian ELF (no Android ABI is)".into());
    }
    let u16_at = |o: usize| -> Result<u16, String> {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]))
            .ok_or_else(|| format!("truncated ELF (offset {o})"))
    };
    let u32_at = |o: usize| -> Result<u64, String> {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes(s.try_into().expect("4 bytes")) as u64)
            .ok_or_else(|| format!("truncated ELF (offset {o})"))
    };
    let u64_at = |o: usize| -> Result<u64, String> {
        b.get(o..o + 8)
            .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
            .ok_or_else(|| format!("truncated ELF (offset {o})"))
    };
    let machine = u16_at(18)?;
    let (phoff, phentsize, phnum) = if class64 {
        (u64_at(32)?, u16_at(54)?, u16_at(56)?)
    } else {
        (u32_at(28)?, u16_at(42)?, u16_at(44)?)
    };
    let mut loads = Vec::new();
    for i in 0..phnum as u64 {
        let ph = usize::try_from(phoff + i * phentsize as u64)
            .map_err(|_| "program header offset out of range".to_string())?;
        const PT_LOAD: u64 = 1;
        if u32_at(ph)? != PT_LOAD {
            continue;
        }
        loads.push(if class64 {
            Load {
                offset: u64_at(ph + 8)?,
                vaddr: u64_at(ph + 16)?,
                align: u64_at(ph + 48)?,
            }
        } else {
            Load {
                offset: u32_at(ph + 4)?,
                vaddr: u32_at(ph + 8)?,
                align: u32_at(ph + 28)?,
            }
        });
    }
    if loads.is_empty() {
        return Err("no LOAD segment".into());
    }
    Ok(Elf {
        class64,
        machine,
        loads,
    })
}

/// One thing wrong with the APK, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    LoadAlign {
        entry: String,
        align: u64,
        need: u64,
    },
    ZipAlign {
        entry: String,
        offset: u64,
        need: u64,
    },
    Compressed {
        entry: String,
    },
    WrongMachine {
        entry: String,
        abi: AndroidAbi,
        found: u16,
    },
    BadElf {
        entry: String,
        why: String,
    },
    Missing {
        entry: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::LoadAlign { entry, align, need } => write!(
                f,
                "{entry}: LOAD segments aligned to {align} bytes, needs {need} (16 KB pages)\n    \
                 hint: link it with -Wl,-z,max-page-size=16384 (NDK r28+ does by default)"
            ),
            Problem::ZipAlign {
                entry,
                offset,
                need,
            } => write!(
                f,
                "{entry}: stored at offset {offset}, not a multiple of {need}\n    \
                 hint: `zipalign -P 16 -f 4` (build-tools >= 35) before signing, or AGP >= 8.5.1"
            ),
            Problem::Compressed { entry } => write!(
                f,
                "{entry}: compressed, but native libraries must be stored (extractNativeLibs=false)\n    \
                 hint: keep `packaging.jniLibs.useLegacyPackaging = false` in app/build.gradle.kts"
            ),
            Problem::WrongMachine { entry, abi, found } => write!(
                f,
                "{entry}: ELF machine {found}, but {} needs {}\n    \
                 hint: a library built for another ABI was staged under jniLibs/{}",
                abi.name(),
                machine(*abi),
                abi.name()
            ),
            Problem::BadElf { entry, why } => write!(f, "{entry}: {why}"),
            Problem::Missing { entry } => write!(
                f,
                "{entry}: missing from the APK\n    \
                 hint: the Gradle build did not package jniLibs (check app/build.gradle.kts's abiFilters)"
            ),
        }
    }
}

/// The APK failed the checks; every problem is listed.
#[derive(Debug, thiserror::Error)]
#[error("{} is not loadable on 16 KB page devices / not aligned:\n{}", apk.display(), problems.iter().map(|p| format!("  - {p}\n")).collect::<String>())]
pub struct AlignError {
    pub apk: PathBuf,
    pub problems: Vec<Problem>,
}

/// A `.so` that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedLib {
    pub entry: String,
    pub abi: AndroidAbi,
    pub load_align: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub size: u64,
    pub libs: Vec<CheckedLib>,
    /// ABIs found under lib/.
    pub abis: Vec<AndroidAbi>,
}

/// Offset of an entry's data: after its local header (whose extra field may differ from
/// the central directory's, which is what zipalign pads).
fn data_offset(f: &mut File, header_start: u64) -> Result<u64> {
    let mut h = [0u8; 30];
    f.seek(SeekFrom::Start(header_start))?;
    f.read_exact(&mut h)?;
    anyhow::ensure!(
        h[..4] == *b"PK\x03\x04",
        "no local file header at offset {header_start}"
    );
    let name = u16::from_le_bytes([h[26], h[27]]) as u64;
    let extra = u16::from_le_bytes([h[28], h[29]]) as u64;
    Ok(header_start + 30 + name + extra)
}

/// Check an APK (or any zip laid out like one). `expect` lists the entries that must be
/// there (e.g. `lib/arm64-v8a/libmobilertc_app.so`).
pub fn check_apk(apk: &Path, expect: &[String]) -> Result<Report> {
    let file = File::open(apk).with_context(|| format!("opening {}", apk.display()))?;
    let size = file.metadata()?.len();
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("reading {} as a zip (APK)", apk.display()))?;
    let mut raw = File::open(apk).with_context(|| format!("opening {}", apk.display()))?;
    let mut problems = Vec::new();
    let mut libs = Vec::new();
    let mut abis = Vec::new();
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let (name, stored, header_start) = {
            let e = zip
                .by_index_raw(i)
                .with_context(|| format!("reading entry {i} of {}", apk.display()))?;
            (
                e.name().to_owned(),
                e.compression() == zip::CompressionMethod::Stored,
                e.header_start(),
            )
        };
        names.push(name.clone());
        let lib_abi = name
            .strip_prefix("lib/")
            .and_then(|r| r.split_once('/'))
            .filter(|(_, f)| f.ends_with(".so") && !f.contains('/'))
            .map(|(a, _)| abi_from_name(a));
        let offset = data_offset(&mut raw, header_start)
            .with_context(|| format!("{}: entry {name}", apk.display()))?;
        match lib_abi {
            None => {
                if stored && offset % ZIP_ALIGN != 0 {
                    problems.push(Problem::ZipAlign {
                        entry: name,
                        offset,
                        need: ZIP_ALIGN,
                    });
                }
            }
            Some(None) => problems.push(Problem::BadElf {
                entry: name,
                why: "under lib/ but not an Android ABI directory".into(),
            }),
            Some(Some(abi)) => {
                if !abis.contains(&abi) {
                    abis.push(abi);
                }
                let mut ok = true;
                if !stored {
                    problems.push(Problem::Compressed {
                        entry: name.clone(),
                    });
                    ok = false;
                } else if offset % SO_ZIP_ALIGN != 0 {
                    problems.push(Problem::ZipAlign {
                        entry: name.clone(),
                        offset,
                        need: SO_ZIP_ALIGN,
                    });
                    ok = false;
                }
                let mut bytes = Vec::new();
                zip.by_index(i)
                    .and_then(|mut e| Ok(e.read_to_end(&mut bytes)?))
                    .with_context(|| format!("reading {name} from {}", apk.display()))?;
                match parse_elf(&bytes) {
                    Err(why) => {
                        problems.push(Problem::BadElf { entry: name, why });
                        continue;
                    }
                    Ok(elf) => {
                        if elf.machine != machine(abi) || elf.class64 != is_64bit(abi) {
                            problems.push(Problem::WrongMachine {
                                entry: name,
                                abi,
                                found: elf.machine,
                            });
                            continue;
                        }
                        let need = page_size(abi);
                        let align = elf.min_load_align().expect("parse_elf ensures a LOAD");
                        if align < need || !align.is_power_of_two() {
                            problems.push(Problem::LoadAlign {
                                entry: name,
                                align,
                                need,
                            });
                            continue;
                        }
                        if ok {
                            libs.push(CheckedLib {
                                entry: name,
                                abi,
                                load_align: align,
                                offset,
                            });
                        }
                    }
                }
            }
        }
    }
    for e in expect {
        if !names.contains(e) {
            problems.push(Problem::Missing { entry: e.clone() });
        }
    }
    if !problems.is_empty() {
        return Err(AlignError {
            apk: apk.to_owned(),
            problems,
        }
        .into());
    }
    Ok(Report { size, libs, abis })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with one PT_LOAD of the given alignment.
    fn elf64(machine: u16, align: u64) -> Vec<u8> {
        let mut b = vec![0u8; 64 + 56];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        b[64..68].copy_from_slice(&1u32.to_le_bytes());
        b[64 + 48..64 + 56].copy_from_slice(&align.to_le_bytes());
        b
    }

    #[test]
    fn parses_elf64_loads() {
        let e = parse_elf(&elf64(183, 0x4000)).unwrap();
        assert!(e.class64);
        assert_eq!(e.machine, 183);
        assert_eq!(e.min_load_align(), Some(0x4000));
    }

    #[test]
    fn rejects_non_elf_and_truncated() {
        assert_eq!(parse_elf(b"PK\x03\x04").unwrap_err(), "not an ELF file");
        let mut t = elf64(183, 0x4000);
        t.truncate(80);
        assert!(parse_elf(&t).unwrap_err().contains("truncated"), "{t:?}");
    }

    #[test]
    fn page_sizes_per_abi() {
        assert_eq!(page_size(AndroidAbi::Arm64V8a), 16384);
        assert_eq!(page_size(AndroidAbi::X86_64), 16384);
        assert_eq!(page_size(AndroidAbi::ArmeabiV7a), 4096);
        assert_eq!(page_size(AndroidAbi::X86), 4096);
        assert_eq!(abi_from_name("armeabi-v7a"), Some(AndroidAbi::ArmeabiV7a));
        assert_eq!(abi_from_name("mips"), None);
    }
}
