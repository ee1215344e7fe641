"""Export a model to PyTorch, TransformerLens and safetensors, with its ground-truth circuit.

    import theory_kit as tk
    from theory_kit import export
    model = tk.compile(program, vocab={1, 2, 3}, max_seq_len=5)
    tl = export.to_transformer_lens(model)          # a HookedTransformer
    ids, _ = model.encode([[3, 1, 2]])              # BOS (id 0) prepended
    logits, cache = tl.run_with_cache(torch.tensor(ids))
    export.circuit(model)["L0.H0"].node             # the RASP node head 0 of layer 0 computes

torch, transformer-lens and safetensors are the optional extra ``theory_kit[export]``; the
rest of theory_kit installs and runs without them, and each function here raises
`MissingExtra` naming the extra when its package is missing. `circuit` needs none of them.

The exported models compute exactly what `theory_kit.model.forward` computes (ReLU MLPs, no
LayerNorm, softmax attention with the compiled logits: TransformerLens's 1/sqrt(d_head) scale
is switched off, `use_attn_scale=False`), on the same token ids: `Model.encode` gives them,
BOS first (id 0). TransformerLens needs one head count, one head width and one MLP width for
all layers: missing heads are zero heads (uniform attention, zero output), head widths and
MLP widths are padded with zero columns; `circuit(...).unused_heads` / `unused_neurons` list
the padding. A looped model is unrolled for TransformerLens: its block is repeated
`max_iterations` times, or `iterations=` times (a halted sequence's state is frozen by the
loop's update MLP, so extra passes change nothing; `iterations=max_iterations + 1` adds the
runtime's probe pass, whose `halt` readout is the flag of the final state); `to_torch` keeps
the loop with per-sequence halting. `circuit(..., iterations=)` lays out the same unrolling,
and gives every component a role (node, loop, halting, cleaner; `theory_kit.export.circuit`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np

from theory_kit.errors import InvalidInput, InvalidModelFile, TheoryKitError
from theory_kit.export.circuit import Circuit, Component, circuit, layer_schedule

__all__ = ["MissingExtra", "to_torch", "to_transformer_lens", "transformer_lens_config",
           "save_safetensors", "load_safetensors", "circuit", "Circuit", "Component",
           "layer_schedule"]

EXTRA = "theory_kit[export]"


class MissingExtra(TheoryKitError, ImportError):
    """An optional dependency is not installed."""


def _require(module: str, where: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(f"{where} needs the package {module!r}, which is not installed: "
                           f"pip install '{EXTRA}' (torch, transformer-lens, safetensors)"
                           ) from exc


def _model_of(model: Any, where: str):
    from theory_kit.model import Model
    inner = getattr(model, "model", model)   # a Compilation delegates to its Model
    if not isinstance(inner, Model):
        raise InvalidInput(f"{where}: expected a compiled or loaded model, got "
                           f"{type(model).__name__}")
    return inner


def _torch_dtype(torch, weights, dtype):
    name = np.dtype(weights.dtype if dtype is None else dtype).name
    if name not in ("float32", "float64"):
        raise InvalidInput(f"export: dtype must be float32 or float64, got {name!r}")
    return getattr(torch, name)


# -- plain PyTorch ------------------------------------------------------------------------------
def to_torch(model: Any, *, dtype: Any = None):
    """A plain `torch.nn.Module` computing the model's forward pass.

    `module(ids, key_mask=None)` takes token ids [B, T] (BOS first, as `Model.encode` gives
    them) and returns the final residual [B, T, D]; `module.readout(x, name="output")` the
    readout's scores. Parameters are frozen (requires_grad False) and named
    "layers.{l}.W_Q" etc. as in `theory_kit.model.LayerWeights`. A looped model runs its block
    until every sequence halts (the numpy dense forward's rule) or `iterations=` passes.

    Raises:
        MissingExtra: torch is not installed.
        InvalidInput: not a model; a dtype other than float32/float64.
    """
    torch = _require("torch", "to_torch")
    inner = _model_of(model, "to_torch")
    return _torch_module(torch)(inner.weights, _torch_dtype(torch, inner.weights, dtype))


_MODULE_CLASS: dict = {}


def _torch_module(torch):
    if "cls" in _MODULE_CLASS:
        return _MODULE_CLASS["cls"]
    nn = torch.nn

    def frozen(a, dtype):
        return nn.Parameter(torch.tensor(np.asarray(a), dtype=dtype), requires_grad=False)

    class Layer(nn.Module):
        def __init__(self, lw, dtype):
            super().__init__()
            for name in lw.ARRAYS:
                setattr(self, name, frozen(getattr(lw, name), dtype))

        def forward(self, x, mask):
            if self.W_Q.shape[0]:
                q = torch.einsum("btd,hde->bhte", x, self.W_Q)
                k = torch.einsum("btd,hde->bhte", x, self.W_K)
                v = torch.einsum("btd,hdf->bhtf", x, self.W_V)
                logits = torch.einsum("bhqe,bhke->bhqk", q, k).masked_fill(~mask, -torch.inf)
                pattern = torch.softmax(logits, dim=-1)
                x = x + torch.einsum("bhqk,bhkf,hfd->bqd", pattern, v, self.W_O)
            if self.W_in.shape[1]:
                x = x + torch.relu(x @ self.W_in + self.b_in) @ self.W_out + self.b_out
            return x

    class CompiledTransformer(nn.Module):
        """A theory_kit model as a torch module (see `theory_kit.export.to_torch`)."""

        def __init__(self, weights, dtype):
            super().__init__()
            self.token_embed = frozen(weights.token_embed, dtype)
            self.pos_embed = frozen(weights.pos_embed, dtype)
            self.layers = nn.ModuleList(Layer(lw, dtype) for lw in weights.layers)
            self.unembed = nn.ParameterDict({name: frozen(r.unembed, dtype)
                                             for name, r in weights.readouts.items()})
            self.causal = weights.causal
            self._weights = weights

        def readout(self, x, name: str = "output"):
            return x @ self.unembed[name]

        def forward(self, ids, key_mask=None, iterations: Optional[int] = None):
            from theory_kit.model.forward import _halted, _is_true
            ids = torch.as_tensor(ids, dtype=torch.long)
            b, t = ids.shape
            if key_mask is None:
                key_mask = torch.ones((b, t), dtype=torch.bool)
            key_mask = torch.as_tensor(key_mask, dtype=torch.bool)
            mask = key_mask[:, None, None, :]
            if self.causal:
                mask = mask & torch.tril(torch.ones((t, t), dtype=torch.bool))[None, None]
            x = self.token_embed[ids] + self.pos_embed[:t][None]
            loop = self._weights.loop
            if loop is None:
                for layer in self.layers:
                    x = layer(x, mask)
                return x
            for i in range(loop.start):
                x = self.layers[i](x, mask)
            halt = self._weights.readouts[loop.halt]
            done = np.zeros(b, dtype=bool)
            real = key_mask.numpy()
            for _ in range(loop.max_iterations if iterations is None else iterations):
                for i in loop.block:
                    x = self.layers[i](x, mask)
                if iterations is None:
                    scores = self.readout(x, loop.halt).detach().numpy()
                    done |= _halted(_is_true(scores, halt, axis=-1), real)
                    if done.all():
                        break
            for i in range(loop.stop, len(self.layers)):
                x = self.layers[i](x, mask)
            return x

    _MODULE_CLASS["cls"] = CompiledTransformer
    return CompiledTransformer


# -- TransformerLens ----------------------------------------------------------------------------
def _padded_layers(weights, iterations: Optional[int] = None) -> tuple[list, int, int, int]:
    """Per exported layer (looped: unrolled to `iterations` passes) the LayerWeights, and the
    common head count, head width and MLP width."""
    layers = [weights.layers[i] for i in layer_schedule(weights, iterations)]
    n_heads = max([lw.n_heads for lw in layers] + [1])
    d_head = max([max(lw.W_Q.shape[2], lw.W_V.shape[2]) for lw in layers] + [1])
    d_mlp = max([lw.mlp_hidden for lw in layers] + [1])
    return layers, n_heads, d_head, d_mlp


def transformer_lens_config(model: Any, *, dtype: Any = None,
                            iterations: Optional[int] = None) -> dict:
    """The keyword arguments of the `HookedTransformerConfig` that `to_transformer_lens`
    builds (plain JSON-ready values; "dtype" as a string)."""
    inner = _model_of(model, "transformer_lens_config")
    w = inner.weights
    layers, n_heads, d_head, d_mlp = _padded_layers(w, iterations)
    name = np.dtype(w.dtype if dtype is None else dtype).name
    if name not in ("float32", "float64"):
        raise InvalidInput(f"export: dtype must be float32 or float64, got {name!r}")
    return {"n_layers": len(layers), "d_model": w.residual_width, "n_ctx": w.max_seq_len + 1,
            "d_head": d_head, "n_heads": n_heads, "d_mlp": d_mlp, "d_vocab": len(w.tokens),
            "d_vocab_out": w.readouts["output"].width, "act_fn": "relu",
            "normalization_type": None,
            "attention_dir": "causal" if w.causal else "bidirectional",
            "use_attn_scale": False, "use_attn_result": True, "use_hook_mlp_in": False,
            "positional_embedding_type": "standard", "default_prepend_bos": False,
            "original_architecture": "theory_kit", "model_name": "theory_kit_compiled",
            "dtype": name}


def _tl_state_dict(weights, config: dict, iterations: Optional[int] = None
                   ) -> dict[str, np.ndarray]:
    layers, n_heads, d_head, d_mlp = _padded_layers(weights, iterations)
    dtype = np.dtype(config["dtype"])
    d = weights.residual_width
    sd = {"embed.W_E": weights.token_embed, "pos_embed.W_pos": weights.pos_embed,
          "unembed.W_U": weights.readouts["output"].unembed,
          "unembed.b_U": np.zeros(weights.readouts["output"].width)}
    for l, lw in enumerate(layers):
        h, e, f, m = lw.n_heads, lw.W_Q.shape[2], lw.W_V.shape[2], lw.mlp_hidden
        arrays = {"attn.W_Q": np.zeros((n_heads, d, d_head)),
                  "attn.W_K": np.zeros((n_heads, d, d_head)),
                  "attn.W_V": np.zeros((n_heads, d, d_head)),
                  "attn.W_O": np.zeros((n_heads, d_head, d)),
                  "attn.b_Q": np.zeros((n_heads, d_head)), "attn.b_K": np.zeros((n_heads, d_head)),
                  "attn.b_V": np.zeros((n_heads, d_head)), "attn.b_O": np.zeros(d),
                  "mlp.W_in": np.zeros((d, d_mlp)), "mlp.b_in": np.zeros(d_mlp),
                  "mlp.W_out": np.zeros((d_mlp, d)), "mlp.b_out": np.asarray(lw.b_out)}
        arrays["attn.W_Q"][:h, :, :e] = lw.W_Q
        arrays["attn.W_K"][:h, :, :e] = lw.W_K
        arrays["attn.W_V"][:h, :, :f] = lw.W_V
        arrays["attn.W_O"][:h, :f, :] = lw.W_O
        arrays["mlp.W_in"][:, :m] = lw.W_in
        arrays["mlp.b_in"][:m] = lw.b_in
        arrays["mlp.W_out"][:m] = lw.W_out
        sd.update({f"blocks.{l}.{k}": v for k, v in arrays.items()})
    return {k: np.ascontiguousarray(v, dtype=dtype) for k, v in sd.items()}


def to_transformer_lens(model: Any, *, dtype: Any = None, iterations: Optional[int] = None):
    """A TransformerLens `HookedTransformer` with the model's weights (see the module
    docstring for padding, the attention scale, BOS and loops).

    Args:
        model: a `Model` or a Compilation.
        dtype: float32 or float64 (default: the model's).
        iterations: a looped model's block is unrolled this many times (default
            `max_iterations`; `circuit(..., iterations=)` names the same layers).

    Raises:
        MissingExtra: torch or transformer-lens is not installed.
        InvalidInput: not a model; a dtype other than float32/float64; `iterations` for a
            model without a loop, or not an int >= 0.
    """
    torch = _require("torch", "to_transformer_lens")
    tl = _require("transformer_lens", "to_transformer_lens")
    inner = _model_of(model, "to_transformer_lens")
    config = transformer_lens_config(inner, dtype=dtype, iterations=iterations)
    return _hooked(torch, tl, config, _tl_state_dict(inner.weights, config, iterations))


def _hooked(torch, tl, config: dict, state: dict):
    kwargs = dict(config, dtype=getattr(torch, config["dtype"]))
    hooked = tl.HookedTransformer(tl.HookedTransformerConfig(**kwargs))
    params = dict(hooked.named_parameters())
    missing = sorted(set(params) - set(state))
    if missing:
        raise InvalidInput(f"to_transformer_lens: no weights for {missing[:6]}")
    with torch.no_grad():
        for name, value in state.items():
            target = params[name]
            if tuple(target.shape) != value.shape:
                raise InvalidInput(f"to_transformer_lens: {name} has shape {value.shape}, "
                                   f"TransformerLens expects {tuple(target.shape)}")
            target.copy_(torch.from_numpy(np.array(value)))
    hooked.eval()
    return hooked


# -- safetensors --------------------------------------------------------------------------------
_META_KEY = "theory_kit.meta"
_TL_KEY = "transformer_lens.config"


def save_safetensors(model: Any, path: str | os.PathLike, *,
                     transformer_lens: bool = False) -> None:
    """Write the model as a .safetensors file: its arrays under the names of the .npz model
    file ("layer0.W_Q", "token_embed", "unembed", "readout.halt", ...) and the model file's
    meta.json (vocabulary, BOS, residual layout, readouts, constants) as the metadata entry
    "theory_kit.meta", so the model is usable without theory_kit. With
    `transformer_lens=True` the arrays are TransformerLens's state dict instead (padded and
    unrolled, see `to_transformer_lens`) and the metadata also holds
    "transformer_lens.config" (the `HookedTransformerConfig` keyword arguments as JSON).
    Written to a temporary file and renamed.

    Raises:
        MissingExtra: safetensors is not installed.
        InvalidInput: not a model; the file cannot be written.
    """
    st = _require("safetensors.numpy", "save_safetensors")
    inner = _model_of(model, "save_safetensors")
    from theory_kit.model.compiled import _save_target
    target = _save_target(path)
    meta = inner.meta()
    metadata = {_META_KEY: json.dumps(meta, sort_keys=True)}
    if transformer_lens:
        config = transformer_lens_config(inner)
        arrays = _tl_state_dict(inner.weights, config)
        metadata[_TL_KEY] = json.dumps(config, sort_keys=True)
    else:
        arrays = {k: np.ascontiguousarray(v) for k, v in inner.weights.arrays().items()}
    tmp = f"{target}.tmp{os.getpid()}"
    try:
        st.save_file(arrays, tmp, metadata=metadata)
        os.replace(tmp, target)
    except OSError as exc:
        raise InvalidInput(f"save_safetensors: cannot write {target!r} ({exc})") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_safetensors(path: str | os.PathLike):
    """Load a model written by `save_safetensors` (theory_kit layout) as a `Model`, checked
    as strictly as `theory_kit.load` checks an .npz model file; a TransformerLens-layout file
    loads as a `HookedTransformer` (needs torch and transformer-lens).

    Raises:
        MissingExtra: safetensors (or, for a TransformerLens file, torch/transformer-lens) is
            not installed.
        InvalidModelFile: not a theory_kit safetensors file, or inconsistent.
    """
    _require("safetensors.numpy", "load_safetensors")
    from safetensors import safe_open
    from theory_kit.model.compiled import model_from_parts
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InvalidModelFile(f"no model file at {path!r}")
    try:
        with safe_open(path, framework="numpy") as fh:
            metadata = fh.metadata() or {}
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises its own SafetensorError (and OSError)
        raise InvalidModelFile(f"{path!r} is not a readable safetensors file "
                               f"({type(exc).__name__}: {exc})") from exc
    if _META_KEY not in metadata:
        raise InvalidModelFile(f"{path!r} is not a theory_kit safetensors file (no "
                               f"{_META_KEY!r} metadata)")
    if _TL_KEY in metadata:
        torch = _require("torch", "load_safetensors")
        tl = _require("transformer_lens", "load_safetensors")
        try:
            config = json.loads(metadata[_TL_KEY])
            return _hooked(torch, tl, config, arrays)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidModelFile(f"{path!r}: metadata {_TL_KEY!r} is not a usable "
                                   f"TransformerLens config ({type(exc).__name__}: {exc})"
                                   ) from exc
    try:
        meta = json.loads(metadata[_META_KEY])
    except ValueError as exc:
        raise InvalidModelFile(f"{path!r}: metadata {_META_KEY!r} is not JSON ({exc})") from exc
    return model_from_parts(meta, arrays, path)
