pub mod app_pages;
pub mod auth;
pub mod guest;
pub mod ordering;
pub mod pages;
pub mod platform;
pub mod staff;
pub mod stream;
