pub mod app_pages;
pub mod auth;
pub mod pages;
pub mod platform;
pub mod staff;
