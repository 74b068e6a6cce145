//! QEMU's firmware configuration device (fw_cfg): where operators hand in files.
//!
//! `-fw_cfg name=opt/pure6/config.toml,file=FILE` makes FILE readable here.
//! On x86 the device sits at I/O ports 0x510 (selector) and 0x511 (data),
//! with the DMA interface at 0x514 when the ID register says so. Reads use
//! DMA when available (one exit per file instead of one per byte, which
//! matters for large route files).
//!
//! Reference: QEMU `docs/specs/fw_cfg.rst`.

use alloc::vec::Vec;

use boot::cpu::{read_port_u8, write_port_u16, write_port_u32};

const SELECTOR_PORT: u16 = 0x510;
const DATA_PORT: u16 = 0x511;
const DMA_ADDRESS_HIGH_PORT: u16 = 0x514;
const DMA_ADDRESS_LOW_PORT: u16 = 0x518;
const SIGNATURE_SELECTOR: u16 = 0x0000;
const FEATURE_SELECTOR: u16 = 0x0001;
const FILE_DIRECTORY_SELECTOR: u16 = 0x0019;
const FEATURE_DMA: u32 = 1 << 1;
const DMA_CONTROL_ERROR: u32 = 1 << 0;
const DMA_CONTROL_READ: u32 = 1 << 1;
const DMA_CONTROL_SELECT: u32 = 1 << 3;
/// Directory entries read at most (QEMU has a few dozen).
const MAX_DIRECTORY_ENTRIES: u32 = 4096;
/// Largest file we agree to read (route files with a full table are ~40 MiB).
pub const MAX_FILE_BYTES: usize = 256 << 20;

/// Why a file could not be read.
#[derive(Debug)]
pub enum FirmwareConfigError {
    /// The file is larger than [`MAX_FILE_BYTES`].
    TooLarge(usize),
    /// The DMA transfer reported an error.
    Transfer,
}

impl core::fmt::Display for FirmwareConfigError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            FirmwareConfigError::TooLarge(size) => {
                write!(
                    formatter,
                    "{size} bytes is larger than the {MAX_FILE_BYTES}-byte limit"
                )
            }
            FirmwareConfigError::Transfer => write!(formatter, "the fw_cfg DMA transfer failed"),
        }
    }
}

/// The fw_cfg device, if the machine has one.
pub struct FirmwareConfig {
    dma: bool,
}

impl FirmwareConfig {
    /// Probes for the device by its "QEMU" signature.
    pub fn probe() -> Option<FirmwareConfig> {
        let mut signature = [0u8; 4];
        select(SIGNATURE_SELECTOR);
        read_bytes_slowly(&mut signature);
        if &signature != b"QEMU" {
            return None;
        }
        let mut features = [0u8; 4];
        select(FEATURE_SELECTOR);
        read_bytes_slowly(&mut features);
        let dma = u32::from_le_bytes(features) & FEATURE_DMA != 0;
        Some(FirmwareConfig { dma })
    }

    /// Finds `name` in the file directory: `(selector, size)`.
    pub fn find(&self, name: &str) -> Option<(u16, usize)> {
        let mut count_bytes = [0u8; 4];
        select(FILE_DIRECTORY_SELECTOR);
        read_bytes_slowly(&mut count_bytes);
        let count = u32::from_be_bytes(count_bytes).min(MAX_DIRECTORY_ENTRIES) as usize;
        // The entries follow the count; read them in one go (one exit with DMA).
        let mut directory = alloc::vec![0u8; 4 + count * 64];
        if self.dma {
            read_with_dma(FILE_DIRECTORY_SELECTOR, &mut directory).ok()?;
        } else {
            select(FILE_DIRECTORY_SELECTOR);
            read_bytes_slowly(&mut directory);
        }
        for entry in directory[4..].chunks_exact(64) {
            // struct FWCfgFile { u32 size; u16 select; u16 reserved; char name[56]; } (big endian)
            let size = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
            let selector = u16::from_be_bytes([entry[4], entry[5]]);
            let name_bytes = &entry[8..];
            let length = name_bytes
                .iter()
                .position(|&byte| byte == 0)
                .unwrap_or(name_bytes.len());
            if &name_bytes[..length] == name.as_bytes() {
                return Some((selector, size));
            }
        }
        None
    }

    /// Reads the whole file `name`, or `Ok(None)` when there is no such file.
    pub fn read_file(&self, name: &str) -> Result<Option<Vec<u8>>, FirmwareConfigError> {
        let Some((selector, size)) = self.find(name) else {
            return Ok(None);
        };
        if size > MAX_FILE_BYTES {
            return Err(FirmwareConfigError::TooLarge(size));
        }
        let mut contents = alloc::vec![0u8; size];
        if self.dma {
            read_with_dma(selector, &mut contents)?;
        } else {
            select(selector);
            read_bytes_slowly(&mut contents);
        }
        Ok(Some(contents))
    }
}

fn select(selector: u16) {
    // SAFETY: 0x510 is the fw_cfg selector register, owned by this module.
    unsafe { write_port_u16(SELECTOR_PORT, selector) }
}

fn read_bytes_slowly(into: &mut [u8]) {
    for byte in into {
        // SAFETY: 0x511 is the fw_cfg data register; each read returns the
        // next byte of the selected item (0 past its end).
        *byte = unsafe { read_port_u8(DATA_PORT) };
    }
}

/// `FWCfgDmaAccess`: control, length, address, all big endian.
#[repr(C, align(16))]
struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

fn read_with_dma(selector: u16, into: &mut [u8]) -> Result<(), FirmwareConfigError> {
    let access = DmaAccess {
        control: ((u32::from(selector) << 16) | DMA_CONTROL_SELECT | DMA_CONTROL_READ).to_be(),
        length: (into.len() as u32).to_be(),
        address: (into.as_mut_ptr() as u64).to_be(),
    };
    let access_address = core::ptr::addr_of!(access) as u64;
    // SAFETY: writing the (identity-mapped, physical = virtual) address of
    // `access` starts the transfer into `into`, which we own mutably and
    // which outlives the transfer: we wait below until the device clears
    // the control word. The high half must be written first; the low half
    // triggers the transfer.
    unsafe {
        write_port_u32(
            DMA_ADDRESS_HIGH_PORT,
            ((access_address >> 32) as u32).to_be(),
        );
        write_port_u32(DMA_ADDRESS_LOW_PORT, (access_address as u32).to_be());
    }
    loop {
        // SAFETY: `access` is live and aligned; the device writes `control`
        // behind the compiler's back, hence the volatile read.
        let control =
            u32::from_be(unsafe { core::ptr::read_volatile(core::ptr::addr_of!(access.control)) });
        if control & DMA_CONTROL_ERROR != 0 {
            return Err(FirmwareConfigError::Transfer);
        }
        if control == 0 {
            return Ok(());
        }
        core::hint::spin_loop();
    }
}
