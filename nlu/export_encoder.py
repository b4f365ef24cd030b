"""Export a (fine-tuned) transformers encoder to ONNX so it runs under onnxruntime like the heads.

``triage nlu export-encoder MODEL_DIR --out DIR`` writes ``DIR/model.onnx`` plus the tokenizer;
then ``TRIAGE_NLU_ENCODER=onnx:DIR`` (or ``--encoder onnx:DIR``) trains and serves with it.
Mean pooling over the attention mask, as sentence-transformers models use, is part of the graph.
"""

from __future__ import annotations

from pathlib import Path


def export_transformer(model_dir: str | Path, out_dir: Path, opset: int = 17) -> Path:
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:
        raise RuntimeError(
            "Exporting an encoder needs torch and transformers: pip install torch transformers"
        ) from e

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir))
    model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sample = tokenizer(["a sample sentence", "另一句"], padding=True, return_tensors="pt")
    path = out_dir / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model),
            (sample["input_ids"], sample["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "n", 1: "len"},
                "attention_mask": {0: "n", 1: "len"},
                "embedding": {0: "n"},
            },
            opset_version=opset,
            dynamo=False,
        )
    tokenizer.save_pretrained(str(out_dir))
    return path
