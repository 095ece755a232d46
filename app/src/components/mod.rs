//! Pieces every page uses: labelled form fields with their errors, the submit button that says
//! what it is doing, and the "load, then show the page or the problem" block.

pub mod console_nav;
pub mod field;
pub mod page_data;
pub mod submit;

pub use console_nav::ConsoleNav;
pub use field::{FieldErrors, TextField};
pub use page_data::{ErrorBox, PageData};
pub use submit::SubmitButton;
