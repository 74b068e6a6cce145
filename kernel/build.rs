//! Links the appliance with boot/linker.ld (load address 1 MiB, PVH note).
fn main() {
    let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let script = manifest.join("../boot/linker.ld").canonicalize().unwrap();
    println!("cargo:rerun-if-changed={}", script.display());
    if std::env::var("TARGET").unwrap_or_default() == "x86_64-unknown-none" {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rustc-link-arg-bins=--no-pie");
        println!("cargo:rustc-link-arg-bins=-znoexecstack");
    }
}
