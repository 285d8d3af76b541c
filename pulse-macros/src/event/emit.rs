//! Emits the `Record`, `ArrowField` and `Event` impls.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::ast::{Container, TimeUnit};

pub fn emit(c: &Container<'_>, is_event: bool) -> TokenStream {
    let name = &c.original.ident;
    let name_str = name.to_string();
    let cols: Vec<_> = c.fields.iter().filter(|f| !f.skip).collect();
    let infos = cols.iter().map(|f| {
        let col = &f.column;
        let ty = f.ty;
        let ty_str = quote!(#ty).to_string().replace(' ', "");
        quote! { ::pulse::__private::FieldInfo { name: #col, rust_type: #ty_str } }
    });
    let arrow = cols.iter().map(|f| {
        let col = &f.column;
        let ty = f.ty;
        quote_spanned! {f.ty_span()=>
            ::pulse::__private::arrow_schema::Field::new(
                #col,
                <#ty as ::pulse::__private::ArrowField>::data_type(),
                <#ty as ::pulse::__private::ArrowField>::NULLABLE,
            )
        }
    });
    let event_impl = if is_event {
        let f = c
            .fields
            .iter()
            .find(|f| f.event_time.is_some())
            .expect("validated");
        let (ident, ty, col) = (f.ident, f.ty, &f.column);
        let (_, unit) = f.event_time.expect("validated");
        let body = match unit {
            TimeUnit::Native => {
                quote_spanned! {f.ty_span()=> <#ty as ::pulse::__private::EventTimeType>::to_timestamp(&self.#ident) }
            }
            TimeUnit::Ms => {
                quote_spanned! {f.ty_span()=> ::pulse::__private::from_epoch_ms::<#ty>(self.#ident) }
            }
            TimeUnit::S => {
                quote_spanned! {f.ty_span()=> ::pulse::__private::from_epoch_s::<#ty>(self.#ident) }
            }
            TimeUnit::Us => {
                quote_spanned! {f.ty_span()=> ::pulse::__private::from_epoch_us::<#ty>(self.#ident) }
            }
        };
        quote! {
            #[automatically_derived]
            impl ::pulse::__private::Event for #name {
                const EVENT_TIME_FIELD: &'static str = #col;
                #[inline(always)]
                fn event_time(&self) -> ::pulse::__private::Timestamp { #body }
            }
        }
    } else {
        quote!()
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::pulse::__private::Record for #name {
                const NAME: &'static str = #name_str;
                const FIELDS: &'static [::pulse::__private::FieldInfo] = &[#(#infos),*];
                fn arrow_fields() -> ::pulse::__private::arrow_schema::Fields {
                    ::pulse::__private::arrow_schema::Fields::from(::std::vec![#(#arrow),*])
                }
            }
            #[automatically_derived]
            impl ::pulse::__private::ArrowField for #name {
                fn data_type() -> ::pulse::__private::arrow_schema::DataType {
                    ::pulse::__private::arrow_schema::DataType::Struct(
                        <Self as ::pulse::__private::Record>::arrow_fields(),
                    )
                }
            }
            #event_impl
        };
    }
}
