//! The derive's own AST: a struct's fields with their Pulse attributes.

use syn::spanned::Spanned;

use crate::ctxt::Ctxt;
use crate::symbol::*;

/// How an `#[event_time]` field is turned into a timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// `DateTime<Utc>` or `pulse::Timestamp`.
    Native,
    Ms,
    S,
    Us,
}

pub struct Field<'a> {
    pub ident: &'a syn::Ident,
    pub ty: &'a syn::Type,
    pub column: String,
    pub skip: bool,
    /// The `#[event_time]` attribute and its unit.
    pub event_time: Option<(&'a syn::Attribute, TimeUnit)>,
    /// The key serde reads the field from in JSON.
    pub json_key: String,
    /// The field has serde attributes besides `rename`, so only serde may decode it.
    pub serde_custom: bool,
}

pub struct Container<'a> {
    pub original: &'a syn::DeriveInput,
    pub fields: Vec<Field<'a>>,
    /// For a fieldless enum (`#[derive(Record)]` only): its variants and their column values.
    pub variants: Option<Vec<(&'a syn::Ident, String)>>,
}

impl<'a> Container<'a> {
    /// Parses the input; `None` (with errors recorded) if it is not a struct with named fields.
    pub fn from_ast(cx: &Ctxt, input: &'a syn::DeriveInput, is_event: bool) -> Option<Self> {
        let named = match &input.data {
            syn::Data::Struct(s) => match &s.fields {
                syn::Fields::Named(n) => n,
                syn::Fields::Unnamed(_) => {
                    cx.error_spanned_by(&input.ident, "events and records must have named fields, found a tuple struct; write `struct Name { field: Type, .. }`");
                    return None;
                }
                syn::Fields::Unit => {
                    cx.error_spanned_by(&input.ident, "events and records must have named fields, found a unit struct; add fields such as `ts: DateTime<Utc>`");
                    return None;
                }
            },
            syn::Data::Enum(e) if !is_event => {
                let mut variants = vec![];
                for v in &e.variants {
                    if !matches!(v.fields, syn::Fields::Unit) {
                        cx.error_spanned_by(&v.ident, "`#[derive(Record)]` on an enum needs fieldless variants (stored as dictionary-encoded strings)");
                    }
                    variants.push((
                        &v.ident,
                        rename_of(cx, &v.attrs).unwrap_or_else(|| v.ident.to_string()),
                    ));
                }
                return Some(Container {
                    original: input,
                    fields: vec![],
                    variants: Some(variants),
                });
            }
            syn::Data::Enum(e) => {
                cx.error_spanned_by(e.enum_token, "`#[derive(Event)]` supports only structs with named fields, found an enum; `#[derive(Record)]` stores fieldless enums as strings");
                return None;
            }
            syn::Data::Union(u) => {
                cx.error_spanned_by(u.union_token, "`#[derive(Event)]` and `#[derive(Record)]` support only structs with named fields, found a union");
                return None;
            }
        };
        let fields = named.named.iter().map(|f| Field::from_ast(cx, f)).collect();
        Some(Container {
            original: input,
            fields,
            variants: None,
        })
    }
}

impl<'a> Field<'a> {
    fn from_ast(cx: &Ctxt, f: &'a syn::Field) -> Self {
        let ident = f.ident.as_ref().expect("named field");
        let mut field = Field {
            ident,
            ty: &f.ty,
            column: ident.to_string().trim_start_matches("r#").to_string(),
            skip: false,
            event_time: None,
            json_key: ident.to_string().trim_start_matches("r#").to_string(),
            serde_custom: false,
        };
        let mut serde_rename = None;
        let mut event_rename = None;
        for attr in &f.attrs {
            if attr.path().is_ident(EVENT_TIME) {
                let unit = parse_event_time(cx, attr);
                if field.event_time.is_some() {
                    cx.error_spanned_by(attr, "duplicate `#[event_time]` attribute on one field");
                }
                field.event_time = Some((attr, unit));
            } else if attr.path().is_ident(EVENT) {
                let r = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident(RENAME) {
                        let s: syn::LitStr = meta.value()?.parse()?;
                        event_rename = Some(s.value());
                        Ok(())
                    } else if meta.path.is_ident(SKIP) {
                        field.skip = true;
                        Ok(())
                    } else {
                        Err(meta.error(format!(
                            "unknown `event` option `{}`; expected `rename = \"..\"` or `skip`",
                            meta.path
                                .get_ident()
                                .map(ToString::to_string)
                                .unwrap_or_default()
                        )))
                    }
                });
                if let Err(e) = r {
                    cx.push(e);
                }
            } else if attr.path().is_ident(SERDE) {
                // serde's own rename applies to columns too, unless `#[event(rename)]` overrides it.
                let _ = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident(RENAME) && meta.input.peek(syn::Token![=]) {
                        let s: syn::LitStr = meta.value()?.parse()?;
                        serde_rename = Some(s.value());
                        return Ok(());
                    }
                    field.serde_custom = true;
                    if meta.input.peek(syn::Token![=]) {
                        let _: syn::Expr = meta.value()?.parse()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        let _ = meta.parse_nested_meta(|inner| {
                            if inner.input.peek(syn::Token![=]) {
                                let _: syn::Expr = inner.value()?.parse()?;
                            }
                            Ok(())
                        });
                    }
                    Ok(())
                });
            }
        }
        if let Some(name) = &serde_rename {
            field.json_key = name.clone();
        }
        if let Some(name) = event_rename.or(serde_rename) {
            field.column = name;
        }
        field
    }

    pub fn span(&self) -> proc_macro2::Span {
        self.ident.span()
    }

    pub fn ty_span(&self) -> proc_macro2::Span {
        self.ty.span()
    }
}

fn parse_event_time(cx: &Ctxt, attr: &syn::Attribute) -> TimeUnit {
    let mut unit = TimeUnit::Native;
    if matches!(attr.meta, syn::Meta::Path(_)) {
        return unit;
    }
    let r = attr.parse_nested_meta(|meta| {
        let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
        unit = match name.as_str() {
            EPOCH_MS => TimeUnit::Ms,
            EPOCH_S => TimeUnit::S,
            EPOCH_US => TimeUnit::Us,
            _ => {
                return Err(meta.error(format!(
                    "unknown `event_time` option `{name}`; expected `epoch_ms`, `epoch_s` or `epoch_us`"
                )));
            }
        };
        Ok(())
    });
    if let Err(e) = r {
        cx.push(e);
    }
    unit
}

/// `#[event(rename = "..")]`, else `#[serde(rename = "..")]`, on a variant.
fn rename_of(cx: &Ctxt, attrs: &[syn::Attribute]) -> Option<String> {
    let mut event = None;
    let mut serde = None;
    for attr in attrs {
        if attr.path().is_ident(EVENT) {
            let r = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident(RENAME) {
                    event = Some(meta.value()?.parse::<syn::LitStr>()?.value());
                    Ok(())
                } else {
                    Err(meta
                        .error("unknown `event` option on a variant; expected `rename = \"..\"`"))
                }
            });
            if let Err(e) = r {
                cx.push(e);
            }
        } else if attr.path().is_ident(SERDE) {
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident(RENAME) && meta.input.peek(syn::Token![=]) {
                    serde = Some(meta.value()?.parse::<syn::LitStr>()?.value());
                } else if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                Ok(())
            });
        }
    }
    event.or(serde)
}
