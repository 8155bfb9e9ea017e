pub mod pages;
pub mod platform;
