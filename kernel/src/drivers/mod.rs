//! Device drivers: PCI configuration, virtio transports and the virtio-net ports.

pub mod network_port;
pub mod pci;
pub mod virtio;
