//! The quantized-network IR, its validation, JSON format and reference executor.

pub mod dtype;
pub mod exec;
pub mod form;
pub mod format;
pub mod geometry;
pub mod ir;
pub mod ops;
pub mod requant;
pub mod validate;
pub mod walk;

pub use dtype::QType;
pub use ir::{
    Add, AddKernel, AvgPool2d, Conv2d, Dense, GlobalAvgPool, Input, InputQuantize, Layer, MaxPool2d, Network, Quant,
    TensorInfo,
};
pub use requant::{Requant, Rescale, Rounding};
pub use validate::Node;
