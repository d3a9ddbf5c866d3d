//! Turns a normalised spec into one formatted Rust module: progenitor's output plus the
//! code progenitor cannot produce (multipart operations, error bodies by status,
//! operation metadata, known enum values, the client hook).

use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Result, anyhow};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;
use serde_json::Value;

use super::normalize::{MultipartOperation, Normalized, OperationFacts, pascal_case, snake_case};

/// The Rust type every `date-time` string becomes (accepts RFC 3339 or epoch milliseconds).
const TIMESTAMP_TYPE: &str = "crate::Timestamp";
/// The per-client context type the hook reads (auth and extra headers).
const CONTEXT_TYPE: &str = "crate::RequestContext";

fn ident(s: &str) -> Ident {
    let s = snake_case(s);
    if syn::parse_str::<Ident>(&s).is_ok() {
        Ident::new(&s, Span::call_site())
    } else {
        Ident::new_raw(&s, Span::call_site())
    }
}

fn type_ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

fn settings() -> progenitor::GenerationSettings {
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_tag(progenitor::TagStyle::Merged)
        .with_hooks(progenitor_impl::HooksMode::Expected)
        .with_inner_type(CONTEXT_TYPE.parse().expect("constant type path"))
        .with_derive("PartialEq");
    let date_time = schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::String.into()),
        format: Some("date-time".into()),
        ..Default::default()
    };
    settings.with_conversion(date_time, TIMESTAMP_TYPE, std::iter::empty());
    settings
}

/// Runs progenitor, turning both its errors and its panics into an `Err` with the message.
fn run_progenitor(spec: &openapiv3::OpenAPI) -> std::result::Result<TokenStream, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut generator = progenitor::Generator::new(&settings());
        generator.generate_tokens(spec)
    }));
    std::panic::set_hook(previous);
    match result {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "progenitor panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)")
        )),
    }
}

fn parse_spec(spec: &Value) -> Result<openapiv3::OpenAPI> {
    serde_json::from_value(spec.clone())
        .map_err(|e| anyhow!("not a valid OpenAPI 3.0 document: {e}"))
}

/// Generates the operations with progenitor; on failure, finds which operations fail.
fn progenitor_tokens(api: &str, spec: &Value) -> Result<TokenStream> {
    let parsed = parse_spec(spec)?;
    let whole = match run_progenitor(&parsed) {
        Ok(tokens) => return Ok(tokens),
        Err(e) => e,
    };
    // Try each operation alone, so the error names what is unsupported.
    let mut culprits = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for (method, op) in item.as_object().into_iter().flatten() {
                let Some(op_id) = op.get("operationId").and_then(Value::as_str) else {
                    continue;
                };
                let mut single = spec.clone();
                single["paths"] = serde_json::json!({ path: { method: op } });
                if let Err(e) =
                    parse_spec(&single).and_then(|s| run_progenitor(&s).map_err(|e| anyhow!(e)))
                {
                    culprits.push(format!(
                        "operation {op_id} ({} {path}): {e}",
                        method.to_uppercase()
                    ));
                }
            }
        }
    }
    if culprits.is_empty() {
        let mut no_ops = spec.clone();
        no_ops["paths"] = serde_json::json!({});
        match parse_spec(&no_ops).and_then(|s| run_progenitor(&s).map_err(|e| anyhow!(e))) {
            Err(e) => culprits.push(format!("components.schemas: {e}")),
            Ok(_) => culprits.push(whole),
        }
    }
    Err(anyhow!(
        "{api}: progenitor cannot generate this spec:\n  {}",
        culprits.join("\n  ")
    ))
}

/// What the emitter needs to know about an API version besides its normalised spec.
#[derive(Debug, Clone, Copy)]
pub struct VersionInfo<'a> {
    /// The version's name (`v1`).
    pub name: &'a str,
    /// The generated module (`v1`).
    pub module: &'a str,
    /// The vendored document's file name under `openapi/`.
    pub spec_file: &'a str,
    /// The path between the tenant's base URL and the operation paths.
    pub base_path: &'a str,
    /// Whether this is the default version.
    pub default: bool,
}

/// Builds the module source for one API version.
pub fn module_source(version: &VersionInfo<'_>, norm: &Normalized) -> Result<String> {
    let api = version.name;
    let spec_file = version.spec_file;
    let generated = progenitor_tokens(api, &norm.spec)?;
    let multipart = multipart_code(&norm.multipart);
    let operations = operations_code(api, &norm.operations)?;
    let api_const = api_code(version);
    let errors = errors_code(&norm.operations);
    let known = known_values_code(norm);
    let context: TokenStream = CONTEXT_TYPE
        .parse()
        .map_err(|e| anyhow!("context type: {e}"))?;
    let hook = quote! {
        impl ClientHooks<#context> for Client {
            async fn pre<E>(
                &self,
                request: &mut reqwest::Request,
                info: &OperationInfo,
            ) -> std::result::Result<(), Error<E>> {
                crate::hooks::prepare_request(
                    &self.inner,
                    request,
                    operations::by_rust_name(info.operation_id),
                );
                Ok(())
            }
        }
    };
    let all = quote! {
        #generated
        #hook
        #multipart
        #operations
        #api_const
        #errors
        #known
    };
    let file: syn::File =
        syn::parse2(all).map_err(|e| anyhow!("{api}: generated code does not parse: {e}"))?;
    let body = prettyplease::unparse(&file);
    Ok(format!(
        "// @generated by `cargo xtask generate` from openapi/{spec_file}. Do not edit by hand:\n\
         // change the spec or xtask/src/generate, then run `cargo xtask generate`.\n\n{body}"
    ))
}

/// The `mod.rs`: every generated API module, the list of their [`VersionInfo`]s as
/// `APIS`, and one `ApiVersion` constant per version, all in `openapi/apis.yaml` order.
pub fn mod_source(versions: &[VersionInfo<'_>]) -> Result<String> {
    let items = versions.iter().map(|v| {
        let m = ident(v.module);
        let doc = format!(
            " The `{}` API version, generated from `openapi/{}`.",
            v.name, v.spec_file
        );
        quote! {
            #[doc = #doc]
            pub mod #m;
        }
    });
    let modules: syn::File = syn::parse2(quote! { #(#items)* })?;
    let specs = versions.iter().map(|v| {
        let m = ident(v.module);
        quote! { #m::API }
    });
    let constants = versions.iter().map(|v| {
        let m = ident(v.module);
        let c = type_ident(&crate::apis_config::constant_name(v.name));
        let doc = format!(
            " `{}` (`openapi/{}`){}.",
            v.name,
            v.spec_file,
            if v.default {
                ", the default version"
            } else {
                ""
            }
        );
        quote! {
            #[doc = #doc]
            pub const #c: Self = Self::from_spec(&#m::API);
        }
    });
    let table: syn::File = syn::parse2(quote! {
        /// Every API version of `openapi/apis.yaml`, in file order.
        pub const APIS: &[crate::ApiSpec] = &[#(#specs),*];
        impl crate::ApiVersion {
            #(#constants)*
        }
    })?;
    Ok(format!(
        "// @generated by `cargo xtask generate` from openapi/apis.yaml. Do not edit by hand.\n\n{}\n{}",
        prettyplease::unparse(&modules),
        prettyplease::unparse(&table)
    ))
}

/// `pub const API: crate::ApiSpec`: the version's facts.
fn api_code(version: &VersionInfo<'_>) -> TokenStream {
    let name = version.name;
    let module = version.module;
    let base_path = version.base_path;
    let default = version.default;
    quote! {
        /// This version's facts (name, base path, operations).
        pub const API: crate::ApiSpec = crate::ApiSpec {
            name: #name,
            module: #module,
            base_path: #base_path,
            default: #default,
            operations: operations::OPERATIONS,
        };
    }
}

fn multipart_code(ops: &[MultipartOperation]) -> TokenStream {
    if ops.is_empty() {
        return quote! {};
    }
    let mut forms = Vec::new();
    let mut methods = Vec::new();
    for op in ops {
        let form_name = type_ident(&format!("{}Form", pascal_case(&op.name)));
        let fields = op.fields.iter().map(|f| {
            let field = ident(&f.name);
            let doc = format!(
                " The `{}` {}.",
                f.name,
                if f.is_file { "file part" } else { "text field" }
            );
            if f.is_file {
                quote! { #[doc = #doc] pub #field: Option<reqwest::multipart::Part>, }
            } else {
                quote! { #[doc = #doc] pub #field: Option<String>, }
            }
        });
        let adds = op.fields.iter().map(|f| {
            let field = ident(&f.name);
            let name = &f.name;
            if f.is_file {
                quote! { if let Some(part) = self.#field { form = form.part(#name, part); } }
            } else {
                quote! { if let Some(text) = self.#field { form = form.text(#name, text); } }
            }
        });
        let form_doc = format!(
            " The `multipart/form-data` body of `{}` ({} {}).",
            op.operation_id, op.method, op.path
        );
        forms.push(quote! {
            #[doc = #form_doc]
            #[derive(Debug, Default)]
            pub struct #form_name {
                #(#fields)*
            }
            impl #form_name {
                /// Builds the multipart form; parts with a known length keep `Content-Length` known.
                pub fn into_form(self) -> reqwest::multipart::Form {
                    let mut form = reqwest::multipart::Form::new();
                    #(#adds)*
                    form
                }
            }
        });

        let fn_name = ident(&op.name);
        let rust_op_id = snake_case(&op.name);
        let params: Vec<Ident> = op.path_params.iter().map(|p| ident(p)).collect();
        let mut fmt = op.path.clone();
        for p in &op.path_params {
            fmt = fmt.replace(&format!("{{{p}}}"), "{}");
        }
        let fmt = format!("{{}}{fmt}");
        let method = Ident::new(&op.method.to_lowercase(), Span::call_site());
        let success_status = Literal::u16_suffixed(op.success.status);
        let success_type = match &op.success.type_name {
            Some(t) => {
                let t = type_ident(t);
                quote! { types::#t }
            }
            None => quote! { () },
        };
        let success_arm = if op.success.type_name.is_some() {
            quote! { #success_status => ResponseValue::from_response(response).await, }
        } else {
            quote! { #success_status => Ok(ResponseValue::empty(response)), }
        };
        let error_statuses: Vec<Literal> = op
            .error_statuses
            .iter()
            .map(|s| Literal::u16_suffixed(*s))
            .collect();
        let error_arm = if error_statuses.is_empty() {
            quote! {}
        } else {
            quote! { #(#error_statuses)|* => Err(Error::ErrorResponse(ResponseValue::stream(response))), }
        };
        let doc = format!(
            "`{}`: sends a `{}` request to `{}` with a `multipart/form-data` body.",
            op.operation_id, op.method, op.path
        );
        methods.push(quote! {
            #[doc = #doc]
            pub async fn #fn_name<'a>(
                &'a self,
                #(#params: &'a str,)*
                body: multipart::#form_name,
            ) -> Result<ResponseValue<#success_type>, Error<ByteStream>> {
                let url = format!(#fmt, self.baseurl, #(encode_path(#params),)*);
                #[allow(unused_mut)]
                let mut request = self
                    .client
                    .#method(url)
                    .header(
                        ::reqwest::header::ACCEPT,
                        ::reqwest::header::HeaderValue::from_static("application/json"),
                    )
                    .multipart(body.into_form())
                    .build()?;
                let info = OperationInfo { operation_id: #rust_op_id };
                self.pre(&mut request, &info).await?;
                let result = self.exec(request, &info).await;
                self.post(&result, &info).await?;
                let response = result?;
                match response.status().as_u16() {
                    #success_arm
                    #error_arm
                    _ => Err(Error::UnexpectedResponse(response)),
                }
            }
        });
    }
    quote! {
        /// Request bodies of the `multipart/form-data` operations (generated by the xtask,
        /// since progenitor cannot).
        pub mod multipart {
            #(#forms)*
        }
        impl Client {
            #(#methods)*
        }
    }
}

fn operations_code(api: &str, ops: &[OperationFacts]) -> Result<TokenStream> {
    let mut entries = Vec::with_capacity(ops.len());
    for o in ops {
        let success = o.success.as_ref().ok_or_else(|| {
            anyhow!(
                "{api}: operation {} ({} {}) documents no 2xx response",
                o.operation_id,
                o.method,
                o.path
            )
        })?;
        let name = &o.name;
        let id = &o.operation_id;
        let rust = snake_case(&o.name);
        let method = &o.method;
        let path = &o.path;
        let experimental = o.experimental;
        let status = Literal::u16_unsuffixed(success.status);
        let properties = &success.properties;
        let media_type = &success.media_type;
        entries.push(quote! {
            crate::Operation {
                name: #name,
                operation_id: #id,
                rust_name: #rust,
                method: #method,
                path: #path,
                experimental: #experimental,
                success_status: #status,
                success_media_type: #media_type,
                response_properties: &[#(#properties),*],
            },
        });
    }
    Ok(quote! {
        /// What the spec says about each operation, as data.
        pub mod operations {
            /// Every operation of this API version.
            pub const OPERATIONS: &[crate::Operation] = &[#(#entries)*];
            /// The operation with this generated method name.
            pub fn by_rust_name(rust_name: &str) -> Option<&'static crate::Operation> {
                OPERATIONS.iter().find(|o| o.rust_name == rust_name)
            }
            /// Whether the operation with this generated method name is experimental.
            pub fn is_experimental(rust_name: &str) -> bool {
                by_rust_name(rust_name).is_some_and(|o| o.experimental)
            }
        }
    })
}

fn errors_code(ops: &[OperationFacts]) -> TokenStream {
    let enums = ops.iter().filter(|o| !o.errors.is_empty()).map(|o| {
        let name = type_ident(&format!("{}Error", pascal_case(&o.name)));
        let doc = format!(
            " The documented error bodies of `{}`, by HTTP status.",
            o.operation_id
        );
        let variants = o.errors.iter().map(|e| {
            let v = type_ident(&format!("Status{}", e.status));
            let doc = match (crate::http::reason_phrase(e.status), &e.type_name) {
                (Some(reason), Some(_)) => format!(" {} {reason}.", e.status),
                (Some(reason), None) => {
                    format!(" {} {reason} (documented without a body).", e.status)
                }
                (None, Some(_)) => format!(" Status {}.", e.status),
                (None, None) => format!(" Status {} (documented without a body).", e.status),
            };
            match &e.type_name {
                Some(t) => {
                    let t = type_ident(t);
                    quote! { #[doc = #doc] #v(super::types::#t), }
                }
                None => quote! { #[doc = #doc] #v, },
            }
        });
        let arms = o.errors.iter().map(|e| {
            let v = type_ident(&format!("Status{}", e.status));
            let s = Literal::u16_unsuffixed(e.status);
            match &e.type_name {
                Some(_) => quote! { #s => Some(serde_json::from_slice(body).map(Self::#v)), },
                None => quote! { #s => Some(Ok(Self::#v)), },
            }
        });
        quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, PartialEq)]
            pub enum #name {
                #(#variants)*
            }
            impl #name {
                /// Decodes an error body by its status; `None` if the spec does not document the status.
                pub fn decode(status: u16, body: &[u8]) -> Option<Result<Self, serde_json::Error>> {
                    match status {
                        #(#arms)*
                        _ => None,
                    }
                }
            }
        }
    });
    quote! {
        /// Error bodies by status. Operations return them as raw bytes (`Error<ByteStream>`)
        /// because their shape depends on the status; these types decode them.
        pub mod errors {
            #(#enums)*
        }
    }
}

fn known_values_code(norm: &Normalized) -> TokenStream {
    let consts = norm.known_values.iter().map(|(name, (loc, values))| {
        let n = type_ident(name);
        let doc = format!(" Values the spec lists for `{loc}`; the server may send others.");
        quote! {
            #[doc = #doc]
            pub const #n: &[&str] = &[#(#values),*];
        }
    });
    quote! {
        /// Enum values the spec documents. Generated types keep these fields as open strings.
        pub mod known_values {
            #(#consts)*
        }
    }
}
