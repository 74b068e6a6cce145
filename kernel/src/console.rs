//! Serial console (16550 UART on COM1) behind the `log` facade, and its command line.
//!
//! Every line carries the monotonic time since boot:
//! `[    0.012345] message`. Warnings and errors are tagged. Bytes typed on
//! the console are collected into a line and handed to the shell in
//! `main` (`counters`, `ports`, `help`).

use core::fmt::{self, Write};

use boot::cpu::{read_port_u8, write_port_u8};
use spin::Mutex;

use crate::clock;

const COM1: u16 = 0x3F8;
const DATA: u16 = COM1;
const INTERRUPT_ENABLE: u16 = COM1 + 1;
const FIFO_CONTROL: u16 = COM1 + 2;
const LINE_CONTROL: u16 = COM1 + 3;
const MODEM_CONTROL: u16 = COM1 + 4;
const LINE_STATUS: u16 = COM1 + 5;
const LINE_STATUS_DATA_READY: u8 = 1 << 0;
const LINE_STATUS_TRANSMIT_EMPTY: u8 = 1 << 5;
/// Longest console command line kept; longer input is cut and reported.
const COMMAND_LINE_BYTES: usize = 128;

/// Bytes the 16550's transmit FIFO takes once it reports empty.
const TRANSMIT_FIFO_BYTES: u8 = 16;

/// The UART; the lock keeps log lines whole. Every port access is a VM exit
/// (about 16 us nested), so the line status is read once per FIFO's worth
/// of bytes, not once per byte.
struct Serial {
    /// Bytes that may still be written before the line status must be read.
    fifo_room: u8,
}

impl Serial {
    fn write_byte(&mut self, byte: u8) {
        if self.fifo_room == 0 {
            // Bounded, so a missing UART cannot hang the appliance.
            for _ in 0..100_000 {
                // SAFETY: COM1 is the console UART, owned by this module.
                if unsafe { read_port_u8(LINE_STATUS) } & LINE_STATUS_TRANSMIT_EMPTY != 0 {
                    break;
                }
                core::hint::spin_loop();
            }
            self.fifo_room = TRANSMIT_FIFO_BYTES;
        }
        self.fifo_room -= 1;
        // SAFETY: COM1 is the console UART, owned by this module.
        unsafe { write_port_u8(DATA, byte) }
    }
}

impl Write for Serial {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}

static SERIAL: Mutex<Serial> = Mutex::new(Serial { fifo_room: 0 });

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        // virtio-drivers logs feature negotiation at info level; only its
        // warnings matter to an operator.
        let limit = if metadata.target().starts_with("virtio_drivers") {
            log::Level::Warn
        } else {
            log::Level::Info
        };
        metadata.level() <= limit.min(log::max_level().to_level().unwrap_or(log::Level::Error))
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let micros = clock::now().total_micros();
        let mut serial = SERIAL.lock();
        let _ = write!(
            serial,
            "[{:5}.{:06}] ",
            micros / 1_000_000,
            micros % 1_000_000
        );
        match record.level() {
            log::Level::Error => {
                let _ = serial.write_str("ERROR: ");
            }
            log::Level::Warn => {
                let _ = serial.write_str("WARN: ");
            }
            log::Level::Debug | log::Level::Trace => {
                let _ = write!(serial, "{}: ", record.target());
            }
            log::Level::Info => {}
        }
        let _ = writeln!(serial, "{}", record.args());
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Programs the UART (115200 8N1, FIFOs on, interrupts off) and installs the logger.
pub fn init() {
    // SAFETY: COM1 is the console UART, owned by this module; this is the
    // standard 16550 initialisation sequence.
    unsafe {
        write_port_u8(INTERRUPT_ENABLE, 0x00);
        write_port_u8(LINE_CONTROL, 0x80); // divisor latch access
        write_port_u8(DATA, 0x01); // divisor 1: 115200 baud
        write_port_u8(INTERRUPT_ENABLE, 0x00);
        write_port_u8(LINE_CONTROL, 0x03); // 8 bits, no parity, one stop bit
        write_port_u8(FIFO_CONTROL, 0xC7); // FIFO on, cleared, 14-byte threshold
        write_port_u8(MODEM_CONTROL, 0x03); // DTR, RTS
    }
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
}

/// Writes text to the console without a timestamp (used by the shell and the
/// panic handler, which must not take locks a panicking logger holds).
pub fn write_raw(arguments: fmt::Arguments) {
    let mut serial = Serial { fifo_room: 0 };
    let _ = serial.write_fmt(arguments);
}

/// Collects typed bytes into lines.
pub struct CommandLine {
    bytes: [u8; COMMAND_LINE_BYTES],
    length: usize,
    overflowed: bool,
}

impl CommandLine {
    /// An empty line.
    pub const fn new() -> CommandLine {
        CommandLine {
            bytes: [0; COMMAND_LINE_BYTES],
            length: 0,
            overflowed: false,
        }
    }

    /// Reads what the UART has; returns a complete line when Enter was typed.
    /// A line longer than the buffer is reported as `Err(())` once.
    pub fn poll(&mut self) -> Option<Result<&str, ()>> {
        for _ in 0..COMMAND_LINE_BYTES {
            // SAFETY: COM1 is the console UART, owned by this module.
            if unsafe { read_port_u8(LINE_STATUS) } & LINE_STATUS_DATA_READY == 0 {
                return None;
            }
            // SAFETY: as above; reading DATA pops one received byte.
            let byte = unsafe { read_port_u8(DATA) };
            match byte {
                b'\r' | b'\n' => {
                    let length = core::mem::replace(&mut self.length, 0);
                    if core::mem::replace(&mut self.overflowed, false) {
                        return Some(Err(()));
                    }
                    return Some(core::str::from_utf8(&self.bytes[..length]).map_err(|_| ()));
                }
                _ if self.length < COMMAND_LINE_BYTES => {
                    self.bytes[self.length] = byte;
                    self.length += 1;
                }
                _ => self.overflowed = true,
            }
        }
        None
    }
}
