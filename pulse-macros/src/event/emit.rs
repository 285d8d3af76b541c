//! Emits `Record` (fields, schema, partition values), `ArrowField` with a column builder and a
//! column reader specialised to the struct, and `Event`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::ast::{Container, TimeUnit};

pub fn emit(c: &Container<'_>, is_event: bool) -> TokenStream {
    if let Some(variants) = &c.variants {
        return emit_enum(c, variants);
    }
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
    let partition_arms = cols.iter().map(|f| {
        let (col, ident, ty) = (&f.column, f.ident, f.ty);
        quote! { #col => <#ty as ::pulse::__private::ArrowField>::partition_value(&self.#ident), }
    });
    let slot = |i: usize| format_ident!("__pulse_f{}", i);
    let builder_fields = cols.iter().enumerate().map(|(i, f)| {
        let (s, ty) = (slot(i), f.ty);
        quote_spanned! {f.ty_span()=> #s: <#ty as ::pulse::__private::ArrowField>::Builder, }
    });
    let builder_new = cols.iter().enumerate().map(|(i, f)| {
        let (s, ty) = (slot(i), f.ty);
        quote_spanned! {f.ty_span()=> #s: <<#ty as ::pulse::__private::ArrowField>::Builder as ::pulse::__private::ColumnBuilder<#ty>>::with_capacity(__pulse_n), }
    });
    let appends = cols.iter().enumerate().map(|(i, f)| {
        let (s, ty, ident) = (slot(i), f.ty, f.ident);
        quote_spanned! {f.ty_span()=> ::pulse::__private::ColumnBuilder::<#ty>::append(&mut self.#s, &__pulse_v.#ident); }
    });
    let append_nulls = cols.iter().enumerate().map(|(i, f)| {
        let (s, ty) = (slot(i), f.ty);
        quote_spanned! {f.ty_span()=> ::pulse::__private::ColumnBuilder::<#ty>::append_null(&mut self.#s); }
    });
    let finishes = cols.iter().enumerate().map(|(i, f)| {
        let (s, ty) = (slot(i), f.ty);
        quote_spanned! {f.ty_span()=> ::pulse::__private::ColumnBuilder::<#ty>::finish(&mut self.#s) }
    });
    let reader_fields = cols.iter().enumerate().map(|(i, f)| {
        let (s, ty) = (slot(i), f.ty);
        quote_spanned! {f.ty_span()=> #s: <#ty as ::pulse::__private::ArrowField>::Reader, }
    });
    let reader_new = cols.iter().enumerate().map(|(i, f)| {
        let (s, ty, col) = (slot(i), f.ty, &f.column);
        let ty_str = quote!(#ty).to_string().replace(' ', "");
        quote_spanned! {f.ty_span()=>
            let #s = {
                let __pulse_column = ::pulse::__private::columnar::struct_column(__pulse_array, __pulse_path, #col, #name_str)?;
                let __pulse_at = ::pulse::__private::columnar::join(__pulse_path, #col);
                if !<#ty as ::pulse::__private::ArrowField>::NULLABLE {
                    ::pulse::__private::columnar::check_no_nulls(&__pulse_column, __pulse_array, &__pulse_at, #ty_str)?;
                }
                <<#ty as ::pulse::__private::ArrowField>::Reader as ::pulse::__private::ColumnReader<#ty>>::new(&__pulse_column, &__pulse_at)?
            };
        }
    });
    let reader_slots = (0..cols.len()).map(slot);
    let mut next = 0;
    let reads = c.fields.iter().map(|f| {
        let (ident, ty) = (f.ident, f.ty);
        if f.skip {
            quote! { #ident: ::std::default::Default::default(), }
        } else {
            let s = slot(next);
            next += 1;
            quote! { #ident: ::pulse::__private::ColumnReader::<#ty>::read(&self.#s, __pulse_i), }
        }
    });
    let event_impl = if is_event { emit_event(c) } else { quote!() };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::pulse::__private::Record for #name {
                const NAME: &'static str = #name_str;
                const FIELDS: &'static [::pulse::__private::FieldInfo] = &[#(#infos),*];
                fn arrow_fields() -> ::pulse::__private::arrow_schema::Fields {
                    ::pulse::__private::arrow_schema::Fields::from(::std::vec![#(#arrow),*])
                }
                fn partition_value(&self, __pulse_column: &str) -> ::std::option::Option<::std::string::String> {
                    match __pulse_column {
                        #(#partition_arms)*
                        _ => ::std::option::Option::None,
                    }
                }
            }

            #[doc(hidden)]
            pub struct __PulseBuilder {
                #(#builder_fields)*
                __nulls: ::pulse::__private::arrow_buffer::NullBufferBuilder,
            }

            #[automatically_derived]
            impl ::pulse::__private::ColumnBuilder<#name> for __PulseBuilder {
                fn with_capacity(__pulse_n: usize) -> Self {
                    __PulseBuilder { #(#builder_new)* __nulls: ::pulse::__private::arrow_buffer::NullBufferBuilder::new(__pulse_n) }
                }
                #[inline]
                fn append(&mut self, __pulse_v: &#name) {
                    #(#appends)*
                    self.__nulls.append_non_null();
                }
                fn append_null(&mut self) {
                    #(#append_nulls)*
                    self.__nulls.append_null();
                }
                fn finish(&mut self) -> ::pulse::__private::arrow_array::ArrayRef {
                    ::std::sync::Arc::new(::pulse::__private::arrow_array::StructArray::new(
                        <#name as ::pulse::__private::Record>::arrow_fields(),
                        ::std::vec![#(#finishes),*],
                        self.__nulls.finish(),
                    ))
                }
            }

            #[doc(hidden)]
            pub struct __PulseReader {
                #(#reader_fields)*
                __nulls: ::std::option::Option<::pulse::__private::arrow_buffer::NullBuffer>,
            }

            #[automatically_derived]
            impl ::pulse::__private::ColumnReader<#name> for __PulseReader {
                fn new(__pulse_array: &::pulse::__private::arrow_array::ArrayRef, __pulse_path: &str) -> ::pulse::Result<Self> {
                    #(#reader_new)*
                    ::std::result::Result::Ok(__PulseReader {
                        #(#reader_slots,)*
                        __nulls: ::pulse::__private::arrow_array::Array::nulls(__pulse_array.as_ref()).cloned(),
                    })
                }
                #[inline]
                fn read(&self, __pulse_i: usize) -> #name {
                    #name { #(#reads)* }
                }
                fn is_null(&self, __pulse_i: usize) -> bool {
                    self.__nulls.as_ref().is_some_and(|__pulse_n| __pulse_n.is_null(__pulse_i))
                }
            }

            #[automatically_derived]
            impl ::pulse::__private::ArrowField for #name {
                fn data_type() -> ::pulse::__private::arrow_schema::DataType {
                    ::pulse::__private::arrow_schema::DataType::Struct(
                        <Self as ::pulse::__private::Record>::arrow_fields(),
                    )
                }
                type Builder = __PulseBuilder;
                type Reader = __PulseReader;
            }
            #event_impl
        };
    }
}

fn emit_event(c: &Container<'_>) -> TokenStream {
    let name = &c.original.ident;
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
    let decode = emit_decode_json(c);
    quote! {
        #[automatically_derived]
        impl ::pulse::__private::Event for #name {
            const EVENT_TIME_FIELD: &'static str = #col;
            #[inline(always)]
            fn event_time(&self) -> ::pulse::__private::Timestamp { #body }
            #decode
        }
    }
}

/// The specialised JSON decoder: one scan over the line, keys matched as bytes, each field read
/// by its type's fast reader. Without one for every field type, or with serde attributes other
/// than `rename`, every line goes to serde.
fn emit_decode_json(c: &Container<'_>) -> TokenStream {
    let container_serde = c.original.attrs.iter().any(|a| a.path().is_ident("serde"));
    if container_serde || c.fields.iter().any(|f| f.serde_custom) {
        return quote!();
    }
    let slots: Vec<_> = (0..c.fields.len())
        .map(|i| quote::format_ident!("__f{}", i))
        .collect();
    let probe = |ty: &syn::Type| quote!((&&::pulse::__private::JsonProbe::<#ty>::new()));
    let fast = c.fields.iter().map(|f| {
        let p = probe(f.ty);
        quote!(#p.fast())
    });
    let arms = c.fields.iter().zip(&slots).map(|(f, slot)| {
        let key = syn::LitByteStr::new(f.json_key.as_bytes(), proc_macro2::Span::call_site());
        let p = probe(f.ty);
        quote! {
            #key => {
                if #slot.is_some() {
                    return ::std::option::Option::None;
                }
                #slot = ::std::option::Option::Some(#p.scan(&mut __pulse_s)?);
            }
        }
    });
    let in_order = c.fields.iter().zip(&slots).map(|(f, slot)| {
        if f.json_key
            .contains(|c: char| c == '"' || c == '\\' || c.is_control())
        {
            // A key that JSON escapes is left to the general loop.
            return quote! { __pulse_in_order = false; };
        }
        let quoted = format!("\"{}\":", f.json_key);
        let quoted = syn::LitByteStr::new(quoted.as_bytes(), proc_macro2::Span::call_site());
        let p = probe(f.ty);
        quote! {
            if __pulse_in_order {
                if __pulse_s.key_is(#quoted) {
                    #slot = ::std::option::Option::Some(#p.scan(&mut __pulse_s)?);
                } else {
                    __pulse_in_order = false;
                }
            }
        }
    });
    let inits = c.fields.iter().zip(&slots).map(|(f, slot)| {
        let ident = f.ident;
        let p = probe(f.ty);
        quote!(#ident: match #slot { ::std::option::Option::Some(__pulse_v) => __pulse_v, ::std::option::Option::None => #p.missing()? })
    });
    quote! {
        #[inline]
        fn decode_json(__pulse_line: &[u8]) -> ::std::option::Option<Self> {
            #[allow(unused_imports)]
            use ::pulse::__private::{NoJson as _, ViaJson as _};
            if !(true #(&& #fast)*) {
                return ::std::option::Option::None;
            }
            let mut __pulse_s = ::pulse::__private::JsonScanner::new(__pulse_line);
            __pulse_s.begin()?;
            #(let mut #slots = ::std::option::Option::None;)*
            let mut __pulse_in_order = true;
            #(#in_order)*
            let _ = __pulse_in_order;
            while let ::std::option::Option::Some(__pulse_key) = __pulse_s.key()? {
                match __pulse_key {
                    #(#arms)*
                    _ => __pulse_s.skip_value()?,
                }
            }
            __pulse_s.end()?;
            ::std::option::Option::Some(Self { #(#inits),* })
        }
    }
}

fn emit_enum(c: &Container<'_>, variants: &[(&syn::Ident, String)]) -> TokenStream {
    let name = &c.original.ident;
    let names = variants.iter().map(|(_, n)| n);
    let idents: Vec<_> = variants.iter().map(|(i, _)| *i).collect();
    let index = idents
        .iter()
        .enumerate()
        .map(|(i, v)| quote! { #name::#v => #i, });
    let from = idents
        .iter()
        .enumerate()
        .map(|(i, v)| quote! { #i => #name::#v, });
    let last = idents
        .last()
        .map(|v| quote!(#name::#v))
        .unwrap_or_else(|| quote!(unreachable!("an enum without variants has no values")));
    quote! {
        const _: () = {
            #[automatically_derived]
            impl ::pulse::__private::columnar::UnitEnum for #name {
                const VARIANTS: &'static [&'static str] = &[#(#names),*];
                fn index(&self) -> usize {
                    match self { #(#index)* }
                }
                fn from_index(__pulse_index: usize) -> Self {
                    match __pulse_index { #(#from)* _ => #last }
                }
            }
            #[automatically_derived]
            impl ::pulse::__private::ArrowField for #name {
                fn data_type() -> ::pulse::__private::arrow_schema::DataType {
                    ::pulse::__private::arrow_schema::DataType::Dictionary(
                        ::std::boxed::Box::new(::pulse::__private::arrow_schema::DataType::Int32),
                        ::std::boxed::Box::new(::pulse::__private::arrow_schema::DataType::Utf8),
                    )
                }
                type Builder = ::pulse::__private::columnar::EnumColumn<#name>;
                type Reader = ::pulse::__private::columnar::EnumReader<#name>;
                fn partition_value(&self) -> ::std::option::Option<::std::string::String> {
                    let __pulse_names = <#name as ::pulse::__private::columnar::UnitEnum>::VARIANTS;
                    ::std::option::Option::Some(__pulse_names[::pulse::__private::columnar::UnitEnum::index(self)].to_string())
                }
            }
        };
    }
}
