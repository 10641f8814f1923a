//! Layer tars: uncompressed USTAR, entries sorted, parent directories explicit, mtime 0,
//! uid/gid 0, no user or group names, modes 0755 / 0644. Nothing in them depends on the
//! machine or the clock, so a layer's bytes (and its digest, which is also its diff ID:
//! the tar is not compressed) are the same everywhere.

use crate::scenario::LayerName;

/// `/bin/pause`: the process every container runs. A static x86-64 ELF of 129 bytes, written
/// by hand so that the base layer holds nothing we did not make:
///
/// ```text
/// ELF header (64 bytes): class 64, little endian, ET_EXEC, EM_X86_64, entry 0x400078,
///                        one program header at offset 64
/// program header (56):   PT_LOAD, flags R+X, offset 0 → vaddr 0x400000, 129 bytes
/// code at 0x400078 (9):
///   _start: mov  eax, 34      ; b8 22 00 00 00   pause(2)
///           syscall           ; 0f 05
///           jmp  _start       ; eb f7            and again if a signal handler returned
/// ```
///
/// It sleeps until a signal arrives. As PID 1 of a container the kernel drops signals it
/// has no handler for, except SIGKILL from outside, so it stays up until killed; images set
/// `StopSignal: SIGKILL` so that stopping it does not wait out a timeout.
pub const PAUSE_ELF: [u8; 129] = [
    // e_ident: magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV, padding
    0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // e_type ET_EXEC, e_machine EM_X86_64, e_version 1
    2, 0, 0x3e, 0, 1, 0, 0, 0, // e_entry 0x400078
    0x78, 0, 0x40, 0, 0, 0, 0, 0, // e_phoff 64, e_shoff 0
    64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    // e_flags 0, e_ehsize 64, e_phentsize 56, e_phnum 1, e_shentsize 0, e_shnum 0, e_shstrndx 0
    0, 0, 0, 0, 64, 0, 56, 0, 1, 0, 0, 0, 0, 0, 0, 0, // p_type PT_LOAD, p_flags R|X
    1, 0, 0, 0, 5, 0, 0, 0, // p_offset 0
    0, 0, 0, 0, 0, 0, 0, 0, // p_vaddr, p_paddr 0x400000
    0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, // p_filesz, p_memsz 129
    129, 0, 0, 0, 0, 0, 0, 0, 129, 0, 0, 0, 0, 0, 0, 0, // p_align 0x1000
    0, 0x10, 0, 0, 0, 0, 0, 0, // _start: mov eax, 34; syscall; jmp _start
    0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7,
];

/// What a layer holds.
enum Entry<'a> {
    Dir,
    File { mode: u32, data: &'a [u8] },
}

/// The tar of a layer: `base` holds `/bin/pause`; any other layer `x` holds the file
/// `/rmispec/x` with a fixed content naming it.
pub(super) fn layer_tar(name: &LayerName) -> Vec<u8> {
    if name.is_base() {
        tar(&[
            ("bin/", Entry::Dir),
            (
                "bin/pause",
                Entry::File {
                    mode: 0o755,
                    data: &PAUSE_ELF,
                },
            ),
        ])
    } else {
        let path = format!("rmispec/{name}");
        let data = format!("rmispec layer {name}\n");
        tar(&[
            ("rmispec/", Entry::Dir),
            (
                &path,
                Entry::File {
                    mode: 0o644,
                    data: data.as_bytes(),
                },
            ),
        ])
    }
}

/// A tar of `entries`, which must be sorted with each directory before its contents.
fn tar(entries: &[(&str, Entry<'_>)]) -> Vec<u8> {
    debug_assert!(
        entries.windows(2).all(|w| w[0].0 < w[1].0),
        "entries sorted"
    );
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let data: &[u8] = match entry {
            Entry::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                &[]
            }
            Entry::File { mode, data } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                data
            }
        };
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, path, data)
            .expect("writing to a Vec cannot fail");
    }
    builder.into_inner().expect("writing to a Vec cannot fail")
}

/// A tar of whole files (the image archive): `(path, bytes)`, sorted by path; directories
/// are the paths ending in `/`.
pub(super) fn files_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let entries: Vec<(&str, Entry<'_>)> = files
        .iter()
        .map(|(p, data)| {
            let entry = if p.ends_with('/') {
                Entry::Dir
            } else {
                Entry::File { mode: 0o644, data }
            };
            (p.as_str(), entry)
        })
        .collect();
    tar(&entries)
}
