//! Measuring how real generated cells are (EVALUATION.md). So far: the MMD used by training's validation figure.

pub mod mmd;
