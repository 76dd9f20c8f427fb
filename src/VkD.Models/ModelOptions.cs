namespace VkD.Models;

/// <summary>
/// Options every registry entry accepts, named after timm's <c>create_model</c> keyword arguments.
/// </summary>
/// <param name="NumClasses">Classes of the head(s) (timm's <c>num_classes</c>).</param>
/// <param name="ImgSize">Input resolution for models whose parameters depend on it (position embeddings); null keeps
/// the model's default. Convolutional models accept any resolution and ignore it.</param>
/// <param name="DropPathRate">Stochastic-depth rate of the last block; earlier blocks get a linear ramp from 0
/// (timm's <c>drop_path_rate</c>). Ignored by models without residual drop paths (torchvision/CIFAR ResNets).</param>
/// <param name="InChans">Input channels (timm's <c>in_chans</c>).</param>
public sealed record ModelOptions(int NumClasses = 1000, int? ImgSize = null, double DropPathRate = 0, int InChans = 3)
{
    /// <summary>Throws when an option is out of range, naming the model being built.</summary>
    internal void Validate(string modelName)
    {
        if (NumClasses < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(NumClasses), NumClasses, $"{modelName}: NumClasses must be >= 0.");
        }
        if (ImgSize is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ImgSize), ImgSize, $"{modelName}: ImgSize must be positive.");
        }
        if (DropPathRate is < 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DropPathRate), DropPathRate, $"{modelName}: DropPathRate must be in [0, 1).");
        }
        if (InChans <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(InChans), InChans, $"{modelName}: InChans must be positive.");
        }
    }
}
