# Cost of the training loop's per-step finiteness check (isfinite().all() per parameter, one sync) on a
# DeiT-Ti-sized parameter set, against a DeiT-Ti-sized forward+backward in the same run (PyTorch 1.13, same ops as
# TorchSharp). Run: OMP_WAIT_POLICY=passive OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/python/finite_check_cost.py
import torch, time
torch.set_num_threads(2)
ps=[]
for _ in range(12):
    for shape in [(576,192),(576,),(192,192),(192,),(768,192),(768,),(192,768),(192,),(192,),(192,),(192,),(192,)]:
        ps.append(torch.randn(*shape))
ps.append(torch.randn(1000,192)); ps.append(torch.randn(1000))
t=time.perf_counter()
for _ in range(50):
    ok=torch.stack([torch.isfinite(p).all() for p in ps]).all().item()
check=(time.perf_counter()-t)/50
model=torch.nn.Sequential(*[torch.nn.TransformerEncoderLayer(192,3,768,batch_first=True) for _ in range(12)])
x=torch.randn(32,197,192)
model(x).sum().backward()
t=time.perf_counter()
for _ in range(3):
    model(x).sum().backward()
step=(time.perf_counter()-t)/3
print(f"{sum(p.numel() for p in ps)/1e6:.2f}M params in {len(ps)} tensors: check {check*1e3:.2f} ms, DeiT-Ti-sized fwd+bwd (batch 32) {step*1e3:.0f} ms, ratio {check/step*100:.2f}%")
