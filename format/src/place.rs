//! Where a run runs (pure): in the boot's initramfs, or on a system already booted (a manual
//! run, whose record, kernel log lines and PCR extends must not pass for the boot's).
//!
//! The loader is in an initramfs when either holds:
//! * `/etc/initrd-release` exists: the convention of os-release(5), which systemd's
//!   `in_initrd()`, dracut and mkosi follow (dracut and mkosi images ship the file);
//! * the root it sees is the kernel's `rootfs` (the initramfs itself, unpacked by the kernel
//!   and run as `/init`, its `rdinit=`): what initramfs-tools images are, which ship no
//!   initrd-release. After `switch_root` the root is the real file system, and a container's
//!   root is never `rootfs` (it cannot be `pivot_root`ed).
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// The os-release(5) file of an initramfs.
pub const INITRD_RELEASE: &str = "/etc/initrd-release";
/// The mount table whose root line names the root's file system type.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";
/// The kernel's boot id (a UUID, new every boot).
pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// Where a run ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Place {
    /// The boot's initramfs.
    Initramfs,
    /// A system already booted: a manual run.
    System,
}

impl Place {
    pub fn decide(initrd_release: bool, root_fstype: Option<&str>) -> Self {
        if initrd_release || root_fstype == Some("rootfs") {
            Place::Initramfs
        } else {
            Place::System
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Place::Initramfs => "in the initramfs",
            Place::System => "on the booted system (a manual run, not the boot)",
        }
    }
}

/// The file system type of the root this process sees, from `/proc/self/mountinfo`: the last
/// mount at `/` (a later mount hides an earlier one). `None` when no line is one.
pub fn root_fstype(mountinfo: &str) -> Option<&str> {
    mountinfo.lines().rev().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split(' ').nth(4)?;
        let fstype = right.split(' ').next()?;
        (mount_point == "/" && !fstype.is_empty()).then_some(fstype)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOTED: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw
24 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=4k
";
    const INITRAMFS: &str = "\
1 1 0:2 / / rw shared:1 - rootfs rootfs rw,size=1000k
20 1 0:19 / /proc rw,nosuid - proc proc rw
";

    #[test]
    fn the_root_line_names_the_root_fstype() {
        assert_eq!(root_fstype(BOOTED), Some("ext4"));
        assert_eq!(root_fstype(INITRAMFS), Some("rootfs"));
        // Optional fields of any number; a later mount over / wins.
        let over = "1 1 0:2 / / rw - rootfs rootfs rw\n30 1 0:40 / / rw shared:5 master:1 - overlay overlay rw\n";
        assert_eq!(root_fstype(over), Some("overlay"));
        for bad in ["", "garbage", "1 1 0:2 / / rw -", "1 1 / - ext4"] {
            assert_eq!(root_fstype(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn initrd_release_or_rootfs_is_an_initramfs() {
        assert_eq!(Place::decide(true, Some("ext4")), Place::Initramfs);
        assert_eq!(Place::decide(false, Some("rootfs")), Place::Initramfs);
        assert_eq!(Place::decide(false, Some("tmpfs")), Place::System);
        assert_eq!(Place::decide(false, Some("overlay")), Place::System);
        assert_eq!(Place::decide(false, None), Place::System);
    }
}
