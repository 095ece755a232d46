//! Enums stored in TEXT columns under fixed names.

/// Declares an enum whose variants are stored as the given strings, with `as_str`, `FromStr`
/// (unknown text is a [`FieldError`](crate::error::FieldError) on `$field`) and `ALL`.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::FieldError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::error::FieldError::new($field, format!("{s:?} is not one of {}", [$($text),+].join(", ")))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Parses a stored enum value; a value the code doesn't know means the database and the code
/// disagree, which is an internal error, not the caller's.
pub(crate) fn stored<T: std::str::FromStr<Err = crate::error::FieldError>>(
    table: &str,
    text: &str,
) -> crate::error::Result<T> {
    text.parse().map_err(|e| crate::error::Error::Internal(format!("{table}: {e}")))
}
