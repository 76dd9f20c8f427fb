using VkD.Generation.Models;
using VkD.Interop.Checkpoints;
using static TorchSharp.torch;

namespace VkD.Generation.Training;

/// <summary>Reads a generator back from any file a GAN run writes: <c>model.pth</c> (G's state dict), or a training
/// checkpoint (its <c>generator</c> or <c>generator_ema</c> entry). The architecture is read off the weights' shapes.</summary>
public static class GanCheckpoint
{
    /// <summary>The generator stored in <paramref name="path"/>; <paramref name="ema"/> takes the EMA copy of a
    /// training checkpoint.</summary>
    /// <exception cref="InvalidDataException">The file holds no BigGAN generator (the message names what is missing).</exception>
    public static BigGanGenerator LoadGenerator(string path, bool ema = false)
    {
        var options = new StateDictOptions
        {
            Entry = ema ? "generator_ema" : null,
            DefaultEntries = ["generator"],
        };
        Dictionary<string, Tensor> state;
        try
        {
            state = CheckpointReader.ReadStateDict(path, options);
        }
        catch (CheckpointFormatException e) when (ema)
        {
            throw new InvalidDataException($"'{path}' has no generator_ema entry (a run without --ema, or model.pth): {e.Message}", e);
        }
        try
        {
            var config = InferConfig(state, path);
            var generator = new BigGanGenerator(config);
            CheckpointLoader.LoadStateDict(generator, state, strict: true, source: path);
            generator.eval();
            return generator;
        }
        finally
        {
            foreach (var t in state.Values)
            {
                t.Dispose();
            }
        }
    }

    /// <summary>The configuration of the generator whose state dict is <paramref name="state"/>.</summary>
    public static BigGanConfig InferConfig(IReadOnlyDictionary<string, Tensor> state, string source = "state dict")
    {
        ArgumentNullException.ThrowIfNull(state);
        var style = state.ContainsKey("linear.weight_orig") ? SpectralNormStyle.PyTorch : SpectralNormStyle.BigGan;
        var linear = style == SpectralNormStyle.BigGan ? "linear.weight" : "linear.weight_orig";
        var output = style == SpectralNormStyle.BigGan ? "output_layer.2.weight" : "output_layer.2.weight_orig";
        foreach (var key in new[] { linear, output, "blocks.0.0.bn1.gain.weight" })
        {
            if (!state.ContainsKey(key))
            {
                throw new InvalidDataException($"{source} is not a BigGAN generator: it has no '{key}' (keys: {string.Join(", ", state.Keys.Take(6))}, ...).");
            }
        }
        var width = state[linear].shape[0] / (BigGanGenerator.BottomWidth * BigGanGenerator.BottomWidth);
        if (width % 4 != 0)
        {
            throw new InvalidDataException($"{source}: '{linear}' has {state[linear].shape[0]} rows, not 16 x 4ch.");
        }
        return new BigGanConfig
        {
            Ch = (int)(width / 4),
            DimZ = (int)state[linear].shape[1],
            NumClasses = (int)state["blocks.0.0.bn1.gain.weight"].shape[0],
            Channels = (int)state[output].shape[0],
            SpectralNorm = style,
        };
    }
}
