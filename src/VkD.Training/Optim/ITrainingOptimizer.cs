using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VkD.Training.Optim;

/// <summary>What the training loop needs of an optimiser: its parameters, a settable learning rate, a step, and a
/// PyTorch-layout state dict for checkpoints.</summary>
public interface ITrainingOptimizer : IDisposable
{
    /// <summary>Every parameter the optimiser updates.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Learning rate of the next step.</summary>
    double LearningRate { get; set; }

    /// <summary>Clears the gradients.</summary>
    void ZeroGrad();

    /// <summary>Applies one update.</summary>
    void Step();

    /// <summary>The state in PyTorch's optimizer layout (tensors are copies the caller disposes via <see cref="DisposeStateDict"/>).</summary>
    Dictionary<string, object?> StateDict();

    /// <summary>Restores <see cref="StateDict"/> output.</summary>
    void LoadStateDict(IReadOnlyDictionary<string, object?> dict);

    /// <summary>Frees the tensor copies a <see cref="StateDict"/> call made.</summary>
    static void DisposeStateDict(Dictionary<string, object?> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.GetValueOrDefault("state") is Dictionary<long, object?> perParam)
        {
            foreach (var s in perParam.Values.OfType<Dictionary<string, object?>>())
            {
                foreach (var t in s.Values.OfType<Tensor>())
                {
                    t.Dispose();
                }
            }
        }
    }
}
