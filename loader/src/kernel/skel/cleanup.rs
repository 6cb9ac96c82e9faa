//! A fix-up of libbpf's gen_loader output, on its instructions alone (pure: no kernel, no
//! libbpf): the loader's error cleanup made to fit its stack.
#![forbid(unsafe_code)]

/// One eBPF instruction's fields, as `struct bpf_insn` lays them out in 8 bytes.
fn insn(b: &[u8]) -> (u8, u8, i16, i32) {
    (
        b[0],
        b[1],
        i16::from_le_bytes([b[2], b[3]]),
        i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    )
}

/// libbpf's gen_loader sizes the cleanup at the start of its loader (close each program fd kept
/// on the stack, on error) by every program of the object, subprograms included, but keeps
/// program fds in a stack array of `MAX_USED_PROGS` (32) slots (gen_loader.c, `bpf_gen__init`):
/// for an object of more than 32 functions the cleanup reads past the loader's stack and the
/// verifier refuses the loader ("invalid read from stack R10 off=0"). Only loaded entry
/// programs take a slot (the guard loads at most 24), so the slots past the array never hold an
/// fd: their three instructions (load the slot, skip if not an fd, close it) become `ja +0`
/// (the same length, so every jump keeps its target). Checks the exact instructions libbpf
/// emits and changes nothing unless they match. Returns the slots made no-ops.
pub fn fit_cleanup_to_stack(insns: &mut [u8]) -> Result<usize, CleanupError> {
    const LEN: usize = 8;
    let at = |insns: &[u8], i: usize| insns.get(i * LEN..(i + 1) * LEN).map(insn);
    // r1 = r10; r1 += -stack_sz: the stack's size (insns 1 and 2), then the call that zeroes it
    // (5) and the jump over the cleanup (6); the cleanup's triples start at 7.
    let stack = match at(insns, 2) {
        Some((0x07, 0x01, 0, imm)) if imm < 0 => -i64::from(imm),
        other => return Err(CleanupError::Start(other)),
    };
    let mut patched = 0;
    let mut k = 0usize;
    loop {
        let first = 7 + 3 * k;
        let off = -stack + 4 * k as i64;
        let triple = (at(insns, first), at(insns, first + 1), at(insns, first + 2));
        let is_slot = matches!(triple,
            (Some((0x61, 0xa1, o, 0)), Some((0xd5, 0x01, 1, 0)), Some((0x85, 0, 0, 168)))
                if i64::from(o) == off);
        if !is_slot {
            break;
        }
        if off >= 0 {
            for i in first..first + 3 {
                insns[i * LEN..(i + 1) * LEN].copy_from_slice(&[0x05, 0, 0, 0, 0, 0, 0, 0]);
            }
            patched += 1;
        }
        k += 1;
    }
    if k == 0 {
        return Err(CleanupError::NotFound);
    }
    Ok(patched)
}

/// Why [`fit_cleanup_to_stack`] changed nothing: the loader is not laid out as libbpf's
/// gen_loader lays it out.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CleanupError {
    #[error("gen_loader's loader does not start by sizing its stack (instruction 2: {0:?})")]
    Start(Option<(u8, u8, i16, i32)>),
    #[error("gen_loader's cleanup not found")]
    NotFound,
}
