global using Xunit;

// Tests seed and draw from libtorch's process-wide generator (torch.manual_seed + randn, PyTorch-parity initialisation);
// test classes running in parallel interleave those draws and made seeded tests fail at random. Run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
