"""Hand check that a checkpoint written by VkD.Interop.Checkpoints.CheckpointWriter loads in PyTorch.

    VKD_ROUNDTRIP_OUT=/tmp/vkd_roundtrip.pth.tar dotnet test tests/VkD.Tests -c Release \
        --filter "FullyQualifiedName~Nested_training_checkpoint_round_trips"
    /usr/bin/python3 tools/check_checkpoint_roundtrip.py /tmp/vkd_roundtrip.pth.tar

Loads the file with torch.load, checks the nested entries written by the C# test, and loads the "student" entry
into a PyTorch re-statement of deit_nano_convstem_distilled_32 with strict=True (key names and shapes must match).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))
from make_model_fixtures import ViT  # noqa: E402


def main(path):
    ckpt = torch.load(path, map_location="cpu")
    assert set(ckpt) == {"student", "optimizer", "epoch", "args"}, sorted(ckpt)
    assert ckpt["epoch"] == 3
    assert ckpt["args"]["model"] == "deit_nano_convstem_distilled_32" and ckpt["args"]["amp"] is False
    assert ckpt["args"]["none"] is None and abs(ckpt["args"]["smoothing"] - 0.1) < 1e-6
    assert ckpt["optimizer"]["state"][0]["step"].item() == 7
    assert ckpt["optimizer"]["param_groups"][0]["params"] == [0, 1]
    model = ViT("vkd", img=32, dim=128, depth=6, heads=4, num_classes=10, stem=(32, 3, 1, 4))
    result = model.load_state_dict(ckpt["student"], strict=True)
    print("torch", torch.__version__, "read", path, "->", len(ckpt["student"]), "student tensors;", result)
    model.eval()
    with torch.no_grad():
        print("logits", model(torch.zeros(1, 3, 32, 32))[0, :3].tolist())
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
