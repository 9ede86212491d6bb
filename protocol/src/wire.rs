//! `wire_struct!`: a struct that travels as a MessagePack array.
//!
//! rmp-serde writes structs as arrays, which makes field order the wire
//! format. Its derived `Deserialize` refuses an array with more elements than
//! the struct has fields, and one with fewer. The protocol needs both to work:
//! a newer minor version appends fields (older readers must skip them) and a
//! reader must accept a message from an older minor that lacks the newest
//! fields (they take the default written after `=`).

/// Declares a wire struct: fields in wire order, trailing fields that a newer
/// minor added carry `= default` and may be absent; unknown trailing elements
/// are skipped.
#[macro_export]
#[doc(hidden)]
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeTuple;
                let len = <[&str]>::len(&[$(stringify!($field)),*]);
                #[allow(unused_mut)]
                let mut tuple = serializer.serialize_tuple(len)?;
                $( tuple.serialize_element(&self.$field)?; )*
                tuple.end()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::core::result::Result<Self, D::Error> {
                struct Fields;
                impl<'de> ::serde::de::Visitor<'de> for Fields {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter) -> ::core::fmt::Result {
                        f.write_str(concat!("an array holding a ", stringify!($name)))
                    }
                    #[allow(unused_mut, unused_variables, unused_assignments)]
                    fn visit_seq<A: ::serde::de::SeqAccess<'de>>(self, mut seq: A) -> ::core::result::Result<$name, A::Error> {
                        let mut index = 0usize;
                        $(
                            let $field: $ty = match seq.next_element::<$ty>()? {
                                Some(value) => value,
                                None => $crate::wire_struct!(@missing index, $name $(, $default)?),
                            };
                            index += 1;
                        )*
                        // Fields from a newer minor version: skip them.
                        while seq.next_element::<::serde::de::IgnoredAny>()?.is_some() {}
                        Ok($name { $($field),* })
                    }
                }
                deserializer.deserialize_seq(Fields)
            }
        }
    };
    (@missing $index:ident, $name:ident, $default:expr) => { $default };
    (@missing $index:ident, $name:ident) => {
        return Err(::serde::de::Error::invalid_length(
            $index,
            &concat!("all the fields of ", stringify!($name)),
        ))
    };
}
