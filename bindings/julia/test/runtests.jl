# Tests of CFX.jl: julia --project=bindings/julia -e 'using Pkg; Pkg.test()'
# Needs the library: ENV["CFX_LIBRARY"] or the repository's .build/release/libcfx.so.
using CFX
using Test
import JSON3

const REPO = normpath(joinpath(@__DIR__, "..", "..", ".."))
const FIXTURE = JSON3.read(read(joinpath(REPO, "Tests", "fixtures", "iris_mlp.json"), String))
const X_TEST = permutedims(reduce(hcat, [Float64.(r) for r in FIXTURE["x_test"]]))  # 45 × 4
const P_TEST = permutedims(reduce(hcat, [Float64.(r) for r in FIXTURE["proba_test"]]))

# A logistic regression on 2 features, 2 classes, as Julia callbacks (instances are rows).
const W = [1.5, -2.0]
const B = 0.25
sigmoid(z) = 1 / (1 + exp(-z))
function lr_predict(X)           # n × 2 -> n × 2
    p = sigmoid.(X * W .+ B)
    return hcat(1 .- p, p)
end
function lr_vjp(X, C)            # n × 2, n × 2 -> n × 2
    p = sigmoid.(X * W .+ B)
    return ((C[:, 2] .- C[:, 1]) .* p .* (1 .- p)) * W'
end

@testset "CFX.jl" begin
    @testset "library" begin
        @test CFX.version() == CFX.HEADER_VERSION
        @test isfile(CFX.library_path())
        cfg = default_config("wachter")
        @test cfg["method"] == "wachter" && haskey(cfg, "max_iter") && haskey(cfg, "tol")
        err = try default_config("nope"); nothing catch e; e end
        @test err isa CFXError && err.status == :config && occursin("nope", err.message)
    end

    @testset "native model from a spec" begin
        spec = CFX._todict(FIXTURE["model"])
        m = Model(spec)                          # Dict
        @test m.n_features == 4 && m.n_classes == 3
        m2 = Model(JSON3.write(FIXTURE["model"])) # JSON text
        @test predict(m, X_TEST) ≈ P_TEST atol = 1e-9
        @test predict(m2, X_TEST[1, :]) ≈ P_TEST[1, :] atol = 1e-9
        @test predict(m, permutedims(X_TEST); obsdim = 2) ≈ permutedims(P_TEST) atol = 1e-9
        bad = try Model("{\"input_shape\": [2], \"layers\": [{\"type\": \"bogus\"}]}"); nothing catch e; e end
        @test bad isa CFXError && bad.status == :model && occursin("layers[0]", bad.message)
        json = try Model("{"); nothing catch e; e end
        @test json isa CFXError && json.status == :json
        @test occursin("CFXError (model)", sprint(showerror, bad))
    end

    @testset "explain (row-major conversion, obsdim)" begin
        m = Model(CFX._todict(FIXTURE["model"]))
        e = Explainer(m; target_class = "other", max_iter = 300, return_all = false)
        @test e.config["max_iter"] == 300 && e.config["method"] == "wachter"
        X = X_TEST[1:4, :]
        exps = explain(e, X)
        @test length(exps) == 4
        for (i, x) in enumerate(exps)
            @test x["success"] === true
            @test x["orig_class"] == argmax(P_TEST[i, :]) - 1      # cfx counts classes from 0
            cf = counterfactual(x)
            @test cf isa Vector{Float64} && length(cf) == 4
            @test x["cf"]["class"] != x["orig_class"]
            @test argmax(predict(m, cf)) - 1 == x["cf"]["class"]
        end
        # The same instances as columns give the same counterfactuals.
        cols = explain(e, permutedims(X); obsdim = 2)
        @test [counterfactual(x) for x in cols] == [counterfactual(x) for x in exps]
        one = explain(e, X[2, :])
        @test one isa Dict && counterfactual(one) == counterfactual(exps[2])
        # A model freed first: the explainer keeps its own reference.
        close(m)
        @test counterfactual(explain(e, X[1, :])) == counterfactual(exps[1])
        shape = try explain(e, X[:, 1:3]); nothing catch err; err end
        @test shape isa CFXError && shape.status == :shape
        cfgerr = try Explainer(Model(CFX._todict(FIXTURE["model"])); tol = -1.0); nothing catch err; err end
        @test cfgerr isa CFXError && cfgerr.status == :config && occursin("tol", cfgerr.message)
    end

    @testset "callback models" begin
        x = [-1.0, 0.5]                          # class 0
        @test lr_predict(reshape(x, 1, 2))[1, 2] < 0.5
        numeric = Model(lr_predict, 2, 2)
        exact = Model(lr_predict, 2, 2; vjp = lr_vjp)
        @test predict(exact, x) ≈ vec(lr_predict(reshape(x, 1, 2)))
        for m in (numeric, exact)
            r = explain(Explainer(m; target_class = 1, max_iter = 500), x)
            @test r["success"] && r["cf"]["class"] == 1
            @test lr_predict(reshape(counterfactual(r), 1, 2))[1, 2] >= 0.95 - 1e-9
        end
        a = explain(Explainer(numeric; target_class = 1), x)
        b = explain(Explainer(exact; target_class = 1), x)
        @test counterfactual(a) ≈ counterfactual(b) atol = 1e-3
        @test b["meta"]["predicted_rows"] < a["meta"]["predicted_rows"]
        # Columns as instances (Flux's layout).
        cols = Model(X -> vcat(1 .- sigmoid.(W' * X .+ B), sigmoid.(W' * X .+ B)), 2, 2; obsdim = 2)
        @test counterfactual(explain(Explainer(cols; target_class = 1), x)) ≈ counterfactual(a) atol = 1e-9
        # generate_counterfactual convenience
        g = generate_counterfactual(x, 1, exact; max_iter = 500)
        @test g["success"] && g["cf"]["class"] == 1
    end

    @testset "callback errors" begin
        calls = Ref(0)
        failing = Model(2, 2) do X
            calls[] += 1
            calls[] > 3 && error("boom from Julia")
            lr_predict(X)
        end
        e = Explainer(failing; target_class = 1)
        err = try explain(e, [-1.0, 0.5]); nothing catch ex; ex end
        @test err isa CFXError && err.status == :callback
        @test err.cause isa CapturedException && occursin("boom from Julia", sprint(showerror, err))
        calls[] = typemin(Int)                   # recovers: the explainer is still usable
        @test explain(e, [-1.0, 0.5])["success"]
        wrong = Model(X -> ones(size(X, 1), 3), 2, 2)
        err = try predict(wrong, [0.0, 0.0]); nothing catch ex; ex end
        @test err isa CFXError && err.cause.ex isa DimensionMismatch
    end

    @testset "finalizers" begin
        for _ in 1:200
            m = Model(lr_predict, 2, 2)
            Explainer(m; target_class = 1)
        end
        GC.gc(); GC.gc()
        @test true
    end
end
