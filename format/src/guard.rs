//! The built-in guard's pure side (`bpf/builtin/guard.bpf.c`; the loader's `kernel::guard` loads
//! and arms it): which program fits each LSM hook's prototype, which kernel functions the guard
//! watches, what the loader writes into its config map, and what its read-only info map says.
//! Everything here is decided from names and bytes, so it is unit-tested without a kernel; the
//! C side's enums are mirrored by value (`guard.bpf.c` `HF_*`, `RD_*`, `SW_*`, `enum recording`,
//! `enum refusal`, `struct guard_info`), and the loader's tests check them against the C source.

use crate::live::Instance;

/// Read-only mirror of the guard's state for `bpf-preload status`.
pub const INFO_PIN: &str = "info";
/// The guard's table of protected links (link id -> program id), readable by `status`.
pub const PROT_LINKS_PIN: &str = "prot_links";
/// Where the kernel lists its active LSMs (read by the pipeline, through its `Sys`).
pub const LSM_LIST: &str = "/sys/kernel/security/lsm";

/// Does the kernel's active LSM list (`/sys/kernel/security/lsm`) include the BPF LSM?
pub fn bpf_lsm_active(list: &str) -> bool {
    list.trim().split(',').any(|l| l == "bpf")
}

/// Each program of the guard reads its hook's arguments by position: the kernel's prototype
/// must begin with these parameter names. A hook with two entries has two program variants.
pub const HOOKS: &[(&str, &str, &[&str])] = &[
    ("guard_unlink", "inode_unlink", &["dir", "dentry"]),
    ("guard_rmdir", "inode_rmdir", &["dir", "dentry"]),
    (
        "guard_rename",
        "inode_rename",
        &["old_dir", "old_dentry", "new_dir", "new_dentry"],
    ),
    (
        "guard_link",
        "inode_link",
        &["old_dentry", "dir", "new_dentry"],
    ),
    ("guard_setattr2", "inode_setattr", &["dentry", "attr"]),
    (
        "guard_setattr3",
        "inode_setattr",
        &["idmap", "dentry", "attr"],
    ),
    ("guard_umount", "sb_umount", &["mnt", "flags"]),
    ("guard_remount", "sb_remount", &["sb"]),
    (
        "guard_mount",
        "sb_mount",
        &["dev_name", "path", "type", "flags"],
    ),
    ("guard_move_mount", "move_mount", &["from_path", "to_path"]),
    ("guard_getattr", "inode_getattr", &["path"]),
    ("guard_seal", "bprm_committed_creds", &["bprm"]),
    ("guard_bpf", "bpf", &["cmd", "attr"]),
    ("guard_bpf_map", "bpf_map", &["map", "fmode"]),
    ("guard_file_open", "file_open", &["file"]),
    ("guard_bpf_prog", "bpf_prog", &["prog"]),
    ("guard_permission", "inode_permission", &["inode", "mask"]),
    ("guard_file_receive", "file_receive", &["file"]),
];

/// Programs loaded only when asked for and the hook fits: signed-only mode's (7.x).
pub const OPTIONAL_HOOKS: &[(&str, &str, &[&str])] = &[
    (
        "guard_prog_load",
        "bpf_prog_load",
        &["prog", "attr", "token", "kernel"],
    ),
    (
        "guard_key_permission",
        "key_permission",
        &["key_ref", "cred", "need_perm"],
    ),
    ("guard_capable", "capable", &["cred", "ns", "cap", "opts"]),
];

/// Does the kernel's prototype `found` begin with the parameter names `want`? (Later kernels
/// append arguments; the guard reads by position, so a longer prototype still fits.)
pub fn fits(want: &[&str], found: &[String]) -> bool {
    found.len() >= want.len() && want.iter().zip(found).all(|(w, f)| w == f)
}

/// A hook whose prototype in the running kernel fits no variant of the guard's program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hook {hook}: kernel prototype ({found}) fits no variant of the guard")]
pub struct PrototypeError {
    pub hook: &'static str,
    /// The kernel's parameter names, comma-separated, or `absent`.
    pub found: String,
}

/// `hook_funcs` flags (guard.bpf.c `HF_*`).
pub const HF_HOOK: u8 = 1;
pub const HF_POSITIVE: u8 = 2;
/// The LSM hooks whose callers only treat a negative return as a refusal: a program there
/// returning a positive value lets the operation through and skips every later program.
const POSITIVE_HOOKS: &[&str] = &["bpf_lsm_bpf", "bpf_lsm_bpf_map", "bpf_lsm_bpf_prog"];

/// `hook_funcs` flags of a kernel function by name: fmod_ret may attach to every `security_*`
/// function (and `bpf_lsm_*` is where BPF LSM programs run); none of them may get one.
pub fn hook_flags(name: &str) -> u8 {
    let mut f = 0;
    if name.starts_with("security_") || name.starts_with("bpf_lsm_") {
        f |= HF_HOOK;
    }
    if POSITIVE_HOOKS.contains(&name) {
        f |= HF_POSITIVE;
    }
    f
}

/// Which programs to load, given each hook's parameter names in the kernel (`params(hook)`;
/// `None`: the hook is not in the kernel). Variants of one hook are exclusive: the first whose
/// names match wins; a hook none fits is an error naming what the kernel has.
pub fn pick_programs<F>(params: F) -> Result<Vec<&'static str>, PrototypeError>
where
    F: Fn(&str) -> Option<Vec<String>>,
{
    let mut chosen = Vec::new();
    let mut hooks: Vec<&'static str> = HOOKS.iter().map(|h| h.1).collect();
    hooks.dedup();
    for hook in hooks {
        let found = params(hook).ok_or(PrototypeError {
            hook,
            found: "absent".into(),
        })?;
        let prog = HOOKS
            .iter()
            .find(|&&(_, h, want)| h == hook && fits(want, &found))
            .ok_or_else(|| PrototypeError {
                hook,
                found: found.join(", "),
            })?
            .0;
        chosen.push(prog);
    }
    Ok(chosen)
}

/// `guard_cfg.recording` (guard.bpf.c `enum recording`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    Mount = 0,
    Ftrace = 1,
    Kprobes = 2,
    LinkPin = 3,
    LinkFd = 4,
    ProgFd = 5,
}

/// `guard_info.recorded` bits (guard.bpf.c `RD_*`).
pub const RD_MOUNT: u32 = 1;
pub const RD_LINK_PIN: u32 = 2;
pub const RD_LINK_FD: u32 = 4;
pub const RD_PROG_FD: u32 = 8;

impl Recording {
    /// The value of `guard_cfg` (guard.bpf.c: `__u32 armed; __u32 recording;`, native endian):
    /// `armed` 1 turns the guard on for good, 0 lets the loader's own calls be recorded.
    pub fn cfg_bytes(self, armed: bool) -> [u8; 8] {
        let mut v = [0u8; 8];
        v[..4].copy_from_slice(&u32::from(armed).to_ne_bytes());
        v[4..].copy_from_slice(&(self as u32).to_ne_bytes());
        v
    }
}

/// `guard_info.switches` bits (guard.bpf.c `SW_*`).
pub const SW_FTRACE: u32 = 1;
pub const SW_KPROBES: u32 = 2;

/// Names of `enum refusal` in guard.bpf.c, by value (0: nothing refused yet).
pub const REFUSALS: &[&str] = &[
    "-",
    "unlink",
    "rmdir",
    "rename",
    "link",
    "setattr",
    "create",
    "mkdir",
    "symlink",
    "umount",
    "remount",
    "move",
    "mount",
    "link-detach",
    "map-fd",
    "ftrace-off",
    "kprobes-off",
    "hook-prog",
    "prog-attach",
    "unsigned-prog",
    "keyring",
    "shared-fd",
    "kernel-read",
    "dir-write",
];

/// `struct guard_info` of guard.bpf.c (native endian, C layout): the fields are read at the
/// offsets the compiler gives this mirror, never at hand-counted ones.
#[repr(C)]
struct RawInfo {
    sealed: u32,
    recorded: u32,
    refused: u64,
    last_what: u32,
    last_pid: u32,
    last_comm: [u8; 16],
    anchored: u32,
    switches: u32,
    inst_ino: u64,
    inst_dev: u32,
    keyring: i32,
}

/// The layout before the instance and keyring fields (up to `switches`).
const OLD_INFO_SIZE: usize = std::mem::offset_of!(RawInfo, inst_ino);
const _: () = assert!(std::mem::size_of::<RawInfo>() == 64 && OLD_INFO_SIZE == 48);

/// The guard's read-only info map (`struct guard_info`), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardInfo {
    pub sealed: bool,
    pub refused: u64,
    /// What was refused last, to whom: `umount by systemd[1]`.
    pub last: Option<String>,
    /// The last refusal: its `enum refusal` value (0: none yet) and the refused process (tgid).
    pub last_what: u32,
    pub last_pid: u32,
    /// Once sealed, which mount the mount-level protection holds on: `recorded` (the loader's),
    /// `copy` (switch_root copied /sys: re-anchored on the copy in the real root) or `lost`.
    pub mount: Option<&'static str>,
    /// The bpffs instance the guard protects (its `+shared` inode, its kernel dev_t); `None` from a
    /// guard of the older layout, or one that recorded no instance.
    pub instance: Option<Instance>,
    /// Signed-only mode: the serial of the keyring the guard trusts (0: the mode is off; it
    /// keeps that keyring from being freed, so the serial names the same keyring for good);
    /// `None` from a guard of the older layout.
    pub keyring: Option<i32>,
}

impl GuardInfo {
    /// Was the last refusal of this kind (a name of [`REFUSALS`])?
    pub fn last_was(&self, refusal: &str) -> bool {
        self.last_what != 0 && REFUSALS.get(self.last_what as usize) == Some(&refusal)
    }
}

/// Decode `struct guard_info` (native endian): the current 64-byte layout, or the older
/// 48-byte one (without `inst_ino`, `inst_dev`, `keyring`: those are `None`).
pub fn decode_info(v: &[u8]) -> Option<GuardInfo> {
    use std::mem::offset_of;
    let u32_at = |o: usize| Some(u32::from_ne_bytes(v.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_ne_bytes(v.get(o..o + 8)?.try_into().ok()?));
    if v.len() < OLD_INFO_SIZE {
        return None;
    }
    let refused = u64_at(offset_of!(RawInfo, refused))?;
    let what = u32_at(offset_of!(RawInfo, last_what))?;
    let pid = u32_at(offset_of!(RawInfo, last_pid))?;
    let comm_at = offset_of!(RawInfo, last_comm);
    let comm = v.get(comm_at..comm_at + 16)?;
    let comm = String::from_utf8_lossy(comm.split(|&b| b == 0).next().unwrap_or(&[]));
    let sealed = u32_at(offset_of!(RawInfo, sealed))? == 1;
    let mount = match (sealed, u32_at(offset_of!(RawInfo, anchored))) {
        (false, _) | (_, None) => None,
        (true, Some(1)) => Some("recorded"),
        (true, Some(2)) => Some("copy"),
        (true, Some(_)) => Some("lost"),
    };
    let ino = u64_at(offset_of!(RawInfo, inst_ino));
    let dev = u32_at(offset_of!(RawInfo, inst_dev));
    let instance = match (ino, dev) {
        (Some(ino), Some(dev)) if ino != 0 => Some(Instance { ino, dev }),
        _ => None,
    };
    Some(GuardInfo {
        sealed,
        mount,
        refused,
        last_what: what,
        last_pid: pid,
        last: (what != 0).then(|| {
            format!(
                "{} by {:?}[{pid}]",
                REFUSALS.get(what as usize).copied().unwrap_or("?"),
                comm
            )
        }),
        instance,
        keyring: u32_at(offset_of!(RawInfo, keyring)).map(|k| k as i32),
    })
}

/// `guard_info.recorded` (the `RD_*` bits) of the raw info map value; 0 when it is too short.
pub fn recorded_bits(v: &[u8]) -> u32 {
    u32_at(v, std::mem::offset_of!(RawInfo, recorded)).unwrap_or(0)
}

/// `guard_info.switches` (the `SW_*` bits) of the raw info map value; 0 when it is too short.
pub fn switch_bits(v: &[u8]) -> u32 {
    u32_at(v, std::mem::offset_of!(RawInfo, switches)).unwrap_or(0)
}

fn u32_at(v: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(v.get(o..o + 4)?.try_into().ok()?))
}

/// The kernel's lockdown state (absent: no lockdown LSM).
pub const LOCKDOWN: &str = "/sys/kernel/security/lockdown";

/// The first program libbpf says it could not load, from its messages
/// (`prog 'NAME': BPF program load failed: …`, `prog 'NAME': failed to load: …`).
pub fn first_refused_program(log: &[String]) -> Option<String> {
    log.iter().find_map(|l| {
        let rest = &l[l.find("prog '")? + 6..];
        let (name, tail) = rest.split_once("': ")?;
        (tail.starts_with("BPF program load failed") || tail.starts_with("failed to load"))
            .then(|| name.to_owned())
    })
}

/// The capabilities loading and attaching BPF LSM programs takes.
const LSM_CAPS: [(u32, &str); 4] = [
    (39, "CAP_BPF"),
    (38, "CAP_PERFMON"),
    (21, "CAP_SYS_ADMIN"),
    (33, "CAP_MAC_ADMIN"),
];

/// What to check when the kernel refused the guard's programs: `lsm=` (the LSM list's text),
/// lockdown (`/sys/kernel/security/lockdown`), this process's capabilities and user namespace
/// (`/proc/self/status`, `/proc/self/uid_map`). Each `None`: could not be read.
pub fn load_advice(
    lsm: Option<&str>,
    lockdown: Option<&str>,
    status: Option<&str>,
    uid_map: Option<&str>,
) -> String {
    let mut parts = Vec::new();
    let mut suspect = false;
    let unknown = lsm.is_none() || status.is_none() || uid_map.is_none();
    match lsm.map(str::trim) {
        Some(list) if list.split(',').any(|l| l == "bpf") => {
            parts.push(format!("lsm= has bpf ({list})"))
        }
        Some(list) => {
            suspect = true;
            parts.push(format!("lsm= lacks bpf ({list}): boot with lsm={list},bpf"))
        }
        None => parts.push(format!("{LSM_LIST} unreadable")),
    }
    let mode = lockdown.and_then(|t| {
        let start = t.find('[')? + 1;
        let end = start + t[start..].find(']')?;
        Some(&t[start..end])
    });
    match mode {
        Some("confidentiality") => {
            suspect = true;
            parts.push(
                "lockdown: confidentiality (refuses BPF that reads kernel memory: boot with lockdown=integrity or none)"
                    .into(),
            )
        }
        Some("integrity") => {
            suspect = true;
            parts.push(
                "lockdown: integrity (some kernels refuse BPF programs under it: booting with lockdown=none tells)"
                    .into(),
            )
        }
        Some(m) => parts.push(format!("lockdown: {m}")),
        None => parts.push("lockdown: not active (no lockdown LSM)".into()),
    }
    let eff = status.and_then(|t| {
        let line = t.lines().find(|l| l.starts_with("CapEff:"))?;
        u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
    });
    match eff {
        Some(eff) => {
            let missing: Vec<&str> = LSM_CAPS
                .iter()
                .filter(|(bit, _)| eff & (1u64 << bit) == 0)
                .map(|(_, n)| *n)
                .collect();
            if missing.is_empty() {
                parts.push(
                    "capabilities: CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_MAC_ADMIN held".into(),
                );
            } else {
                suspect = true;
                parts.push(format!("capabilities: missing {}", missing.join(" ")));
            }
        }
        None => parts.push("capabilities: unknown".into()),
    }
    // The initial user namespace maps every id to itself: `0 0 4294967295`.
    let initial =
        uid_map.map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    match initial {
        Some(true) => parts.push("user namespace: the initial one".into()),
        Some(false) => {
            suspect = true;
            parts.push("user namespace: not the initial one (a container): BPF LSM needs the host's capabilities".into())
        }
        None => parts.push("user namespace: unknown".into()),
    }
    if !suspect && !unknown {
        parts.push("all look right: the kernel refuses BPF LSM programs for a reason of its own (see dmesg)".into());
    }
    format!("check: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_refused_program_is_named() {
        let log: Vec<String> = [
            "libbpf: map 'guard_cfg': created successfully, fd=4",
            "libbpf: prog 'guard_unlink': BPF program load failed: -EPERM",
            "libbpf: prog 'guard_unlink': failed to load: -EPERM",
            "libbpf: prog 'guard_rmdir': failed to load: -EPERM",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(first_refused_program(&log).as_deref(), Some("guard_unlink"));
        assert_eq!(
            first_refused_program(&log[3..]).as_deref(),
            Some("guard_rmdir")
        );
        assert_eq!(first_refused_program(&log[..1]), None);
        assert_eq!(first_refused_program(&["prog 'x".into()]), None);
    }

    #[test]
    fn load_advice_names_what_to_check() {
        let all = "Name:\tx\nCapEff:\t000001ffffffffff\n";
        let none = "CapEff:\t0000000000000000\n";
        let init = "         0          0 4294967295\n";
        assert_eq!(
            load_advice(Some("capability,yama,bpf\n"), Some("[none] integrity confidentiality\n"), Some(all), Some(init)),
            "check: lsm= has bpf (capability,yama,bpf); lockdown: none; capabilities: CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_MAC_ADMIN held; user namespace: the initial one; all look right: the kernel refuses BPF LSM programs for a reason of its own (see dmesg)"
        );
        assert_eq!(
            load_advice(Some("capability,yama"), Some("none integrity [confidentiality]"), Some(none), Some("0 1000 1")),
            "check: lsm= lacks bpf (capability,yama): boot with lsm=capability,yama,bpf; lockdown: confidentiality (refuses BPF that reads kernel memory: boot with lockdown=integrity or none); capabilities: missing CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_MAC_ADMIN; user namespace: not the initial one (a container): BPF LSM needs the host's capabilities"
        );
        assert_eq!(
            load_advice(Some("bpf"), Some("none [integrity] confidentiality"), Some(all), Some(init)),
            "check: lsm= has bpf (bpf); lockdown: integrity (some kernels refuse BPF programs under it: booting with lockdown=none tells); capabilities: CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_MAC_ADMIN held; user namespace: the initial one"
        );
        assert_eq!(
            load_advice(None, None, None, None),
            "check: /sys/kernel/security/lsm unreadable; lockdown: not active (no lockdown LSM); capabilities: unknown; user namespace: unknown"
        );
    }

    #[test]
    fn info_decodes_the_c_layout() {
        let mut v = vec![0u8; 48];
        assert_eq!(
            decode_info(&v),
            Some(GuardInfo {
                sealed: false,
                refused: 0,
                last: None,
                last_what: 0,
                last_pid: 0,
                mount: None,
                instance: None,
                keyring: None,
            })
        );
        v[0..4].copy_from_slice(&1u32.to_ne_bytes());
        v[8..16].copy_from_slice(&43u64.to_ne_bytes());
        v[16..20].copy_from_slice(&9u32.to_ne_bytes());
        v[20..24].copy_from_slice(&1u32.to_ne_bytes());
        v[24..31].copy_from_slice(b"systemd");
        let i = decode_info(&v).unwrap();
        assert_eq!((i.sealed, i.refused), (true, 43));
        assert_eq!((i.last_what, i.last_pid), (9, 1));
        assert!(i.last_was("umount") && !i.last_was("mkdir"));
        assert_eq!(i.last.as_deref(), Some("umount by \"systemd\"[1]"));
        assert_eq!(i.mount, Some("lost"));
        v[40..44].copy_from_slice(&2u32.to_ne_bytes());
        assert_eq!(decode_info(&v).unwrap().mount, Some("copy"));
        // the refusals added with the switches and hook programs have names
        v[16..20].copy_from_slice(&15u32.to_ne_bytes());
        assert_eq!(
            decode_info(&v).unwrap().last.as_deref(),
            Some("ftrace-off by \"systemd\"[1]")
        );
        v[16..20].copy_from_slice(&18u32.to_ne_bytes());
        assert_eq!(
            decode_info(&v).unwrap().last.as_deref(),
            Some("prog-attach by \"systemd\"[1]")
        );
        assert_eq!(decode_info(&v[..39]), None);
        assert_eq!(decode_info(&v[..47]), None);
    }

    /// The 64-byte layout: the instance at 48 (ino) and 56 (dev), the trusted keyring at 60.
    #[test]
    fn info_decodes_the_instance_and_keyring_fields() {
        let mut v = vec![0u8; 64];
        v[16..20].copy_from_slice(&7u32.to_ne_bytes());
        v[20..24].copy_from_slice(&4242u32.to_ne_bytes());
        v[24..37].copy_from_slice(b"bpf-preload\0x");
        v[48..56].copy_from_slice(&1234u64.to_ne_bytes());
        v[56..60].copy_from_slice(&27u32.to_ne_bytes());
        let i = decode_info(&v).unwrap();
        assert_eq!(
            i,
            GuardInfo {
                sealed: false,
                refused: 0,
                last: Some("mkdir by \"bpf-preload\"[4242]".into()),
                last_what: 7,
                last_pid: 4242,
                mount: None,
                instance: Some(Instance { ino: 1234, dev: 27 }),
                keyring: Some(0),
            }
        );
        assert!(i.last_was("mkdir"));
        v[60..64].copy_from_slice(&297519507i32.to_ne_bytes());
        assert_eq!(decode_info(&v).unwrap().keyring, Some(297519507));
        // No instance recorded (inode 0): none.
        v[48..56].copy_from_slice(&0u64.to_ne_bytes());
        assert_eq!(decode_info(&v).unwrap().instance, None);
        // A layout cut between the old and the new end: the fields it lacks are absent.
        let i = decode_info(&v[..56]).unwrap();
        assert_eq!((i.instance, i.keyring), (None, None));
    }

    #[test]
    fn hook_flags_cover_every_function_that_can_skip_lsm_hooks() {
        assert_eq!(hook_flags("security_bpf"), HF_HOOK);
        assert_eq!(hook_flags("security_file_open"), HF_HOOK);
        assert_eq!(hook_flags("bpf_lsm_file_open"), HF_HOOK);
        for h in ["bpf_lsm_bpf", "bpf_lsm_bpf_map", "bpf_lsm_bpf_prog"] {
            assert_eq!(hook_flags(h), HF_HOOK | HF_POSITIVE, "{h}");
        }
        assert_eq!(hook_flags("do_unlinkat"), 0);
        assert_eq!(hook_flags("securityfs_create_file"), 0);
        assert_eq!(hook_flags("bpf_lsm"), 0);
    }

    #[test]
    fn lsm_list() {
        assert!(bpf_lsm_active(
            "lockdown,capability,landlock,yama,apparmor,bpf\n"
        ));
        assert!(!bpf_lsm_active("lockdown,capability,apparmor"));
        assert!(!bpf_lsm_active("bpfx,xbpf"));
    }

    fn kernel<'a>(setattr: &'a [&'a str]) -> impl Fn(&str) -> Option<Vec<String>> + 'a {
        move |hook| {
            if hook == "inode_setattr" {
                return Some(setattr.iter().map(|s| s.to_string()).collect());
            }
            let (_, _, want) = HOOKS.iter().find(|h| h.1 == hook)?;
            let mut v: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            v.push("extra".into()); // later kernels append arguments (bpf: kernel)
            Some(v)
        }
    }

    #[test]
    fn setattr_variant_follows_the_prototype() {
        let p61 = pick_programs(kernel(&["dentry", "attr"])).unwrap();
        assert!(p61.contains(&"guard_setattr2") && !p61.contains(&"guard_setattr3"));
        let p612 = pick_programs(kernel(&["idmap", "dentry", "attr"])).unwrap();
        assert!(p612.contains(&"guard_setattr3") && !p612.contains(&"guard_setattr2"));
        assert_eq!(p612.len(), HOOKS.len() - 1);
    }

    #[test]
    fn an_unknown_prototype_is_an_error_naming_it() {
        match pick_programs(kernel(&["x", "dentry"])) {
            Err(PrototypeError { hook, found }) => {
                assert_eq!((hook, found.as_str()), ("inode_setattr", "x, dentry"))
            }
            other => panic!("{other:?}"),
        }
        match pick_programs(|h| {
            (h != "move_mount")
                .then(|| kernel(&["dentry", "attr"])(h))
                .flatten()
        }) {
            Err(PrototypeError { hook, found }) => {
                assert_eq!((hook, found.as_str()), ("move_mount", "absent"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_6_1_kernel_gets_one_program_per_hook_in_table_order() {
        let p = pick_programs(kernel(&["dentry", "attr"])).unwrap();
        assert_eq!(
            p,
            [
                "guard_unlink",
                "guard_rmdir",
                "guard_rename",
                "guard_link",
                "guard_setattr2",
                "guard_umount",
                "guard_remount",
                "guard_mount",
                "guard_move_mount",
                "guard_getattr",
                "guard_seal",
                "guard_bpf",
                "guard_bpf_map",
                "guard_file_open",
                "guard_bpf_prog",
                "guard_permission",
                "guard_file_receive",
            ]
        );
    }

    #[test]
    fn a_prototype_fits_when_it_begins_with_the_names() {
        let found = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(fits(&["dir", "dentry"], &found(&["dir", "dentry"])));
        assert!(fits(&["dir", "dentry"], &found(&["dir", "dentry", "mode"])));
        assert!(!fits(&["dir", "dentry"], &found(&["dir"])));
        assert!(!fits(&["dir", "dentry"], &found(&["dentry", "dir"])));
        assert!(fits(&[], &found(&[])));
    }

    #[test]
    fn the_config_value_is_armed_then_recording() {
        let b = Recording::Kprobes.cfg_bytes(false);
        assert_eq!(b[..4], 0u32.to_ne_bytes());
        assert_eq!(b[4..], 2u32.to_ne_bytes());
        let b = Recording::Mount.cfg_bytes(true);
        assert_eq!(b[..4], 1u32.to_ne_bytes());
        assert_eq!(b[4..], 0u32.to_ne_bytes());
        assert_eq!(Recording::ProgFd.cfg_bytes(false)[4..], 5u32.to_ne_bytes());
    }

    #[test]
    fn recorded_and_switch_bits_are_read_at_their_fields() {
        let mut v = vec![0u8; 64];
        v[4..8].copy_from_slice(&(RD_MOUNT | RD_PROG_FD).to_ne_bytes());
        v[44..48].copy_from_slice(&SW_KPROBES.to_ne_bytes());
        assert_eq!(recorded_bits(&v), 9);
        assert_eq!(switch_bits(&v), 2);
        assert_eq!(recorded_bits(&v[..7]), 0);
        assert_eq!(switch_bits(&v[..47]), 0);
        assert_eq!(switch_bits(&v[..48]), 2);
    }
}
