"""
    CFX

Julia bindings of cfx, a counterfactual-explanation engine (`include/cfx.h`, through `ccall`).

```julia
using CFX
model = CFX.Model(read("model.json", String))           # a native network (JSON spec or Dict)
model = CFX.Model(X -> my_proba(X), 4, 3; vjp = my_vjp)  # or any Julia function as callbacks
explainer = CFX.Explainer(model; target_class = "other", max_iter = 500)
exps = CFX.explain(explainer, X)        # X: n × d, one instance per row (obsdim = 2: d × n)
exps[1]["cf"]["X"], exps[1]["success"]
```

The library is `ENV["CFX_LIBRARY"]` when set, otherwise the repository's
`.build/release/libcfx.so` (build it with `swift build -c release`). Class and feature indices
(`orig_class`, `cf["class"]`, `target_class`, `immutable`) are cfx's, counted from 0.
"""
module CFX

using Libdl
import JSON3

export Model, Explainer, CFXError, explain, predict, counterfactual, generate_counterfactual,
       default_config

const HEADER_VERSION = v"0.3.0"      # CFX_VERSION_STRING of the header this file follows
const CFX_ERROR_MESSAGE_SIZE = 512

const STATUS_NAMES = Dict{Int,Symbol}(0 => :ok, 1 => :invalid_argument, 2 => :json, 3 => :config,
                                      4 => :model, 5 => :shape, 6 => :numeric, 7 => :callback,
                                      8 => :cancelled, 9 => :internal, 10 => :io)

# struct cfx_error { cfx_status code; char message[CFX_ERROR_MESSAGE_SIZE]; }  (516 bytes)
struct CError
    code::Cint
    message::NTuple{CFX_ERROR_MESSAGE_SIZE,UInt8}
end

"""
    CFXError(code, status, message, cause)

A failed cfx call: `status` is the cfx_status as a Symbol (`:config`, `:shape`, `:callback`,
...), `message` cfx's message naming the offending field. When a Julia callback threw,
`cause` is that exception (a `CapturedException` with its backtrace), otherwise `nothing`.
"""
struct CFXError <: Exception
    code::Int
    status::Symbol
    message::String
    cause::Any
end

function Base.showerror(io::IO, e::CFXError)
    print(io, "CFXError (", e.status, "): ", e.message)
    if e.cause !== nothing
        print(io, "\nthe Julia callback threw: ")
        showerror(io, e.cause)
    end
end

# ---- the library ------------------------------------------------------------------------------

const _SYMBOLS = (:cfx_version, :cfx_status_string, :cfx_free, :cfx_model_create_json,
                  :cfx_model_create_callbacks, :cfx_model_free, :cfx_model_shape,
                  :cfx_model_predict, :cfx_default_config, :cfx_explainer_create,
                  :cfx_explainer_free, :cfx_explainer_config, :cfx_explain)
const _fptr = Dict{Symbol,Ptr{Cvoid}}()
const _libpath = Ref{String}("")
const _load_lock = ReentrantLock()

"""The repository's `.build/release/libcfx.so` (this file is bindings/julia/src/CFX.jl)."""
default_library_path() = normpath(joinpath(@__DIR__, "..", "..", "..", ".build", "release",
                                           Sys.isapple() ? "libcfx.dylib" : "libcfx.so"))

function _load!()
    lock(_load_lock) do
        isempty(_libpath[]) || return
        env = get(ENV, "CFX_LIBRARY", "")
        path = isempty(env) ? default_library_path() : env
        isfile(path) || error("cfx: cannot find the library at $path",
                              isempty(env) ? " (the repository build)" : " (from ENV[\"CFX_LIBRARY\"])",
                              ". Build it with `swift build -c release` in the cfx repository root, ",
                              "or set ENV[\"CFX_LIBRARY\"] to a libcfx.so before the first call.")
        handle = Libdl.dlopen(path)
        for name in _SYMBOLS
            _fptr[name] = Libdl.dlsym(handle, name)
        end
        v = VersionNumber(unsafe_string(ccall(_fptr[:cfx_version], Cstring, ())))
        v.major == HEADER_VERSION.major ||
            error("cfx: the library at $path is version $v; CFX.jl follows the $HEADER_VERSION header")
        _libpath[] = path  # last: marks the table complete
    end
    return nothing
end

@inline function _sym(name::Symbol)
    isempty(_libpath[]) && _load!()
    return _fptr[name]
end

"""The path of the loaded libcfx (loading it on first use)."""
library_path() = (isempty(_libpath[]) && _load!(); _libpath[])

"""The version of the loaded library."""
version() = VersionNumber(unsafe_string(ccall(_sym(:cfx_version), Cstring, ())))

function _message(e::CError)
    bytes = collect(e.message)
    n = something(findfirst(iszero, bytes), length(bytes) + 1)
    return String(bytes[1:n-1])
end

function _check(status::Cint, err::Ref{CError}, cause = nothing)
    status == 0 && return nothing
    message = _message(err[])
    if isempty(message)
        message = unsafe_string(ccall(_sym(:cfx_status_string), Cstring, (Cint,), status))
    end
    throw(CFXError(Int(status), get(STATUS_NAMES, Int(status), :unknown), message, cause))
end

"""Decodes a `char *` that cfx returned, and frees it with cfx_free."""
function _take_string(p::Ptr{UInt8})
    p == C_NULL && return ""
    try
        return unsafe_string(p)
    finally
        ccall(_sym(:cfx_free), Cvoid, (Ptr{Cvoid},), p)
    end
end

# JSON3's read-only views -> plain Dict{String,Any} / Vector / numbers / nothing.
_todict(x::JSON3.Object) = Dict{String,Any}(String(k) => _todict(v) for (k, v) in pairs(x))
_todict(x::JSON3.Array) = [_todict(v) for v in x]
_todict(x) = x

_json(config::AbstractString) = String(config)
_json(config) = JSON3.write(config)

"""
    default_config(method = "wachter") -> Dict{String,Any}

Every configuration key of `method` with its default.
"""
function default_config(method::AbstractString = "wachter")
    out = Ref{Ptr{UInt8}}(C_NULL)
    err = Ref{CError}()
    status = ccall(_sym(:cfx_default_config), Cint, (Cstring, Ref{Ptr{UInt8}}, Ref{CError}),
                   method, out, err)
    _check(status, err)
    return _todict(JSON3.read(_take_string(out[])))
end

# ---- models -----------------------------------------------------------------------------------

mutable struct CallbackState
    predict::Any
    vjp::Any
    n_features::Int
    n_classes::Int
    obsdim::Int
    error::Any      # the first exception a callback threw during the current call, or nothing
end

"""
    Model(spec::AbstractString)      # a JSON model specification (docs/model-format.md)
    Model(spec::AbstractDict)        # the same as a Dict (written with JSON3)
    Model(predict, n_features, n_classes; vjp = nothing, obsdim = 1)

A classifier cfx can explain. The first two build a native network, with exact gradients.
The last wraps Julia functions, called back from cfx:

- `predict(X)` returns class probabilities: with `obsdim = 1`, `X` is `n × d` (one instance per
  row) and the result `n × k`; with `obsdim = 2` (Flux's layout), `X` is `d × n` and the result
  `k × n` (no copy on the way in is needed for this layout, one is made anyway so that you may
  keep `X`).
- `vjp(X, C)` (optional) returns the vector-Jacobian product, the gradient of
  `sum(C .* predict(X))` with respect to `X`, in `X`'s layout (`C` in the result's layout).
  Without it cfx differentiates `predict` by central differences.

A callback that throws makes the cfx call fail with a `CFXError` (status `:callback`) whose
`cause` is the exception. Explainers of callback models run on the calling Julia thread
(`"n_threads": 1`) unless the config says otherwise (Julia 1.9+ can run callbacks on cfx's
worker threads).
"""
mutable struct Model
    ptr::Ptr{Cvoid}
    n_features::Int
    n_classes::Int
    callbacks::Union{Nothing,CallbackState}
end

function _free!(m::Model)
    if m.ptr != C_NULL
        ccall(_fptr[:cfx_model_free], Cvoid, (Ptr{Cvoid},), m.ptr)  # loaded: m exists
        m.ptr = C_NULL
    end
    return nothing
end

"""Frees the native model now (explainers built on it keep working)."""
Base.close(m::Model) = _free!(m)

function _wrap_model(ptr::Ptr{Cvoid}, callbacks)
    d, k = Ref{Csize_t}(0), Ref{Csize_t}(0)
    err = Ref{CError}()
    status = ccall(_sym(:cfx_model_shape), Cint,
                   (Ptr{Cvoid}, Ref{Csize_t}, Ref{Csize_t}, Ref{CError}), ptr, d, k, err)
    if status != 0
        ccall(_sym(:cfx_model_free), Cvoid, (Ptr{Cvoid},), ptr)
        _check(status, err)
    end
    return finalizer(_free!, Model(ptr, Int(d[]), Int(k[]), callbacks))
end

function Model(spec::AbstractString)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{CError}()
    status = ccall(_sym(:cfx_model_create_json), Cint, (Cstring, Ref{Ptr{Cvoid}}, Ref{CError}),
                   spec, out, err)
    _check(status, err)
    return _wrap_model(out[], nothing)
end

Model(spec::AbstractDict) = Model(JSON3.write(spec))

"""    load_model(path) -> Model   reads a JSON model specification file."""
load_model(path::AbstractString) = Model(read(path, String))

function _predict_cb(user::Ptr{Cvoid}, x::Ptr{Cdouble}, n::Csize_t, d::Csize_t,
                     out::Ptr{Cdouble})::Cint
    state = unsafe_pointer_to_objref(user)::CallbackState
    try
        nn, dd, k = Int(n), Int(d), state.n_classes
        X = unsafe_wrap(Array, x, (dd, nn))     # row-major n × d == column-major d × n
        P = unsafe_wrap(Array, out, (k, nn))
        if state.obsdim == 2
            R = state.predict(copy(X))
            size(R) == (k, nn) || throw(DimensionMismatch(
                "predict returned an array of size $(size(R)), expected ($k, $nn) (classes × instances)"))
            P .= R
        else
            R = state.predict(permutedims(X))
            size(R) == (nn, k) || throw(DimensionMismatch(
                "predict returned an array of size $(size(R)), expected ($nn, $k) (instances × classes)"))
            P .= transpose(R)
        end
        return Cint(0)
    catch e
        state.error === nothing && (state.error = CapturedException(e, catch_backtrace()))
        return Cint(1)
    end
end

function _vjp_cb(user::Ptr{Cvoid}, x::Ptr{Cdouble}, n::Csize_t, d::Csize_t, cot::Ptr{Cdouble},
                 k::Csize_t, out::Ptr{Cdouble})::Cint
    state = unsafe_pointer_to_objref(user)::CallbackState
    try
        nn, dd, kk = Int(n), Int(d), Int(k)
        X = unsafe_wrap(Array, x, (dd, nn))
        C = unsafe_wrap(Array, cot, (kk, nn))
        G = unsafe_wrap(Array, out, (dd, nn))
        if state.obsdim == 2
            R = state.vjp(copy(X), copy(C))
            size(R) == (dd, nn) || throw(DimensionMismatch(
                "vjp returned an array of size $(size(R)), expected ($dd, $nn) (features × instances)"))
            G .= R
        else
            R = state.vjp(permutedims(X), permutedims(C))
            size(R) == (nn, dd) || throw(DimensionMismatch(
                "vjp returned an array of size $(size(R)), expected ($nn, $dd) (instances × features)"))
            G .= transpose(R)
        end
        return Cint(0)
    catch e
        state.error === nothing && (state.error = CapturedException(e, catch_backtrace()))
        return Cint(1)
    end
end

const _PREDICT_C = Ref{Ptr{Cvoid}}(C_NULL)
const _VJP_C = Ref{Ptr{Cvoid}}(C_NULL)

function __init__()
    _PREDICT_C[] = @cfunction(_predict_cb, Cint,
                              (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Csize_t, Ptr{Cdouble}))
    _VJP_C[] = @cfunction(_vjp_cb, Cint, (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Csize_t,
                                          Ptr{Cdouble}, Csize_t, Ptr{Cdouble}))
end

function Model(predict, n_features::Integer, n_classes::Integer; vjp = nothing,
               obsdim::Integer = 1)
    obsdim in (1, 2) || throw(ArgumentError("obsdim must be 1 (instances are rows) or 2 (columns)"))
    state = CallbackState(predict, vjp, Int(n_features), Int(n_classes), Int(obsdim), nothing)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{CError}()
    status = GC.@preserve state ccall(
        _sym(:cfx_model_create_callbacks), Cint,
        (Csize_t, Csize_t, Ptr{Cvoid}, Ptr{Cvoid}, Ptr{Cvoid}, Ref{Ptr{Cvoid}}, Ref{CError}),
        n_features, n_classes, _PREDICT_C[], vjp === nothing ? C_NULL : _VJP_C[],
        pointer_from_objref(state), out, err)
    _check(status, err)
    return _wrap_model(out[], state)  # the Model (and its explainers) keep `state` alive
end

function Base.show(io::IO, m::Model)
    kind = m.callbacks === nothing ? "native" :
           m.callbacks.vjp === nothing ? "callback" : "callback with vjp"
    print(io, "CFX.Model(", kind, ", ", m.n_features, " features, ", m.n_classes, " classes",
          m.ptr == C_NULL ? ", closed)" : ")")
end

_clear_error!(m::Model) = (m.callbacks !== nothing && (m.callbacks.error = nothing); nothing)

function _take_error!(m::Model)
    m.callbacks === nothing && return nothing
    e, m.callbacks.error = m.callbacks.error, nothing
    return e
end

"""The instances as a d × n Float64 matrix, whose memory is cfx's row-major n × d buffer."""
function _rows(X::AbstractMatrix{<:Real}, obsdim::Integer)
    obsdim == 1 && return Matrix{Float64}(permutedims(X))
    obsdim == 2 && return Matrix{Float64}(X)
    throw(ArgumentError("obsdim must be 1 (instances are rows) or 2 (instances are columns)"))
end

"""
    predict(model, X; obsdim = 1) -> Matrix{Float64}
    predict(model, x::AbstractVector) -> Vector{Float64}

Class probabilities: `n × k` for an `n × d` `X` (`k × n` for a `d × n` `X` with `obsdim = 2`).
"""
function predict(m::Model, X::AbstractMatrix{<:Real}; obsdim::Integer = 1)
    rows = _rows(X, obsdim)
    d, n = size(rows)
    P = Matrix{Float64}(undef, m.n_classes, n)
    err = Ref{CError}()
    _clear_error!(m)
    status = GC.@preserve m ccall(
        _sym(:cfx_model_predict), Cint,
        (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Csize_t, Ptr{Cdouble}, Ref{CError}),
        m.ptr, rows, n, d, P, err)
    _check(status, err, _take_error!(m))
    return obsdim == 2 ? P : permutedims(P)
end

predict(m::Model, x::AbstractVector{<:Real}) = vec(predict(m, reshape(x, :, 1); obsdim = 2))

# ---- explainers -------------------------------------------------------------------------------

"""
    Explainer(model; method = "wachter", kwargs...)
    Explainer(model, config::AbstractDict)
    Explainer(model, config_json::AbstractString)

A configured counterfactual method bound to `model`. Keyword arguments (or the Dict's keys) are
cfx's configuration keys (`CFX.default_config("wachter")` lists them all); unknown keys and bad
values throw a `CFXError` naming the key. `explainer.config` is the effective configuration.
"""
mutable struct Explainer
    ptr::Ptr{Cvoid}
    model::Model                 # keeps callback state alive
    config::Dict{String,Any}
end

function _free!(e::Explainer)
    if e.ptr != C_NULL
        ccall(_fptr[:cfx_explainer_free], Cvoid, (Ptr{Cvoid},), e.ptr)
        e.ptr = C_NULL
    end
    return nothing
end

Base.close(e::Explainer) = _free!(e)

function Explainer(model::Model, config::AbstractDict)
    cfg = Dict{String,Any}(string(k) => v for (k, v) in config)
    get!(cfg, "method", "wachter")
    if model.callbacks !== nothing
        threads = get!(cfg, "n_threads", 1)  # Julia callbacks on the calling thread
        if threads != 1 && VERSION < v"1.9"
            throw(ArgumentError("n_threads = $threads: Julia $VERSION cannot run callbacks on " *
                                "cfx's worker threads (Julia 1.9 or later can); use n_threads = 1"))
        end
    end
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{CError}()
    status = GC.@preserve model ccall(
        _sym(:cfx_explainer_create), Cint, (Ptr{Cvoid}, Cstring, Ref{Ptr{Cvoid}}, Ref{CError}),
        model.ptr, JSON3.write(cfg), out, err)
    _check(status, err)
    e = finalizer(_free!, Explainer(out[], model, Dict{String,Any}()))
    json = Ref{Ptr{UInt8}}(C_NULL)
    status = GC.@preserve e ccall(_sym(:cfx_explainer_config), Cint,
                                  (Ptr{Cvoid}, Ref{Ptr{UInt8}}, Ref{CError}), e.ptr, json, err)
    _check(status, err)
    e.config = _todict(JSON3.read(_take_string(json[])))
    return e
end

Explainer(model::Model, config::AbstractString) = Explainer(model, _todict(JSON3.read(config)))

Explainer(model::Model; method::AbstractString = "wachter", kwargs...) =
    Explainer(model, Dict{String,Any}("method" => method, (string(k) => v for (k, v) in kwargs)...))

function Base.show(io::IO, e::Explainer)
    print(io, "CFX.Explainer(", get(e.config, "method", "?"), ", ", e.model,
          e.ptr == C_NULL ? ", closed)" : ")")
end

function _explanation!(x::Dict{String,Any})
    cf = get(x, "cf", nothing)
    if cf isa Dict
        cf["X"] = Vector{Float64}(cf["X"])
        cf["proba"] = Vector{Float64}(cf["proba"])
    end
    return x
end

"""
    explain(explainer, X::AbstractMatrix; obsdim = 1) -> Vector{Dict{String,Any}}
    explain(explainer, x::AbstractVector) -> Dict{String,Any}

Explains each instance of `X` (`n × d`, one per row; or `d × n` with `obsdim = 2`). Each
explanation has cfx's (alibi's) keys: `"cf"` (`nothing`, or a Dict with `"X"`, `"class"`,
`"proba"`, `"distance"`, `"lambda"`, ...), `"all"`, `"orig_class"`, `"orig_proba"`,
`"success"` and `"meta"`. Throws a `CFXError` when any instance fails.
"""
function explain(e::Explainer, X::AbstractMatrix{<:Real}; obsdim::Integer = 1)
    rows = _rows(X, obsdim)
    d, n = size(rows)
    n == 0 && return Dict{String,Any}[]
    out = Ref{Ptr{UInt8}}(C_NULL)
    err = Ref{CError}()
    _clear_error!(e.model)
    status = GC.@preserve e ccall(
        _sym(:cfx_explain), Cint,
        (Ptr{Cvoid}, Ptr{Cdouble}, Csize_t, Csize_t, Ref{Ptr{UInt8}}, Ref{CError}),
        e.ptr, rows, n, d, out, err)
    _check(status, err, _take_error!(e.model))
    result = _todict(JSON3.read(_take_string(out[])))
    return Dict{String,Any}[_explanation!(x) for x in result["explanations"]]
end

explain(e::Explainer, x::AbstractVector{<:Real}) = only(explain(e, reshape(x, :, 1); obsdim = 2))

"""    counterfactual(explanation) -> Vector{Float64} or nothing"""
function counterfactual(x::AbstractDict)
    cf = get(x, "cf", nothing)
    return cf === nothing ? nothing : cf["X"]
end

"""
    generate_counterfactual(x, target, model; method = "wachter", kwargs...) -> Dict

One call, named as in CounterfactualExplanations.jl: explains the instance `x` (a vector) with
the target class `target` (cfx's 0-based class index, `"other"` or `"same"`); `kwargs` are
configuration keys. Returns the explanation Dict; `counterfactual(ans)` is the new instance.
"""
function generate_counterfactual(x::AbstractVector{<:Real}, target, model::Model;
                                 method::AbstractString = "wachter", kwargs...)
    explainer = Explainer(model; method = method, target_class = target, kwargs...)
    try
        return explain(explainer, x)
    finally
        close(explainer)
    end
end

end # module
