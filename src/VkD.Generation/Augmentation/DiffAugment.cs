using TorchSharp;
using static TorchSharp.torch;

namespace VkD.Generation.Augmentation;

/// <summary>One differentiable augmentation of DiffAugment (Zhao et al. 2020).</summary>
public enum DiffAugmentOp
{
    /// <summary>Brightness (+U(−0.5, 0.5)), saturation (×U(0, 2) around the channel mean), contrast (×U(0.5, 1.5)
    /// around the image mean), in that order.</summary>
    Color,

    /// <summary>Integer shift by up to <c>round(0.125·side)</c> pixels in each direction, zero fill.</summary>
    Translation,

    /// <summary>One zeroed square of <c>round(0.5·side)</c> at a random centre (clipped at the border).</summary>
    Cutout,
}

/// <summary>Which augmentations run, in order (the reference's <c>--DiffAugment translation,cutout</c>).</summary>
/// <param name="Ops">The augmentations, applied in this order.</param>
public sealed record DiffAugmentPolicy(IReadOnlyList<DiffAugmentOp> Ops)
{
    /// <summary>The reference's CIFAR policy: translation, cutout.</summary>
    public static DiffAugmentPolicy TranslationCutout { get; } = new([DiffAugmentOp.Translation, DiffAugmentOp.Cutout]);

    /// <summary>No augmentation.</summary>
    public static DiffAugmentPolicy None { get; } = new([]);

    /// <summary>Parses a comma-separated policy (<c>color,translation,cutout</c>; empty or <c>none</c> for none).</summary>
    public static DiffAugmentPolicy Parse(string? policy)
    {
        if (string.IsNullOrWhiteSpace(policy) || policy.Trim().Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return None;
        }
        var ops = new List<DiffAugmentOp>();
        foreach (var part in policy.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            ops.Add(part.ToLowerInvariant() switch
            {
                "color" or "colour" => DiffAugmentOp.Color,
                "translation" => DiffAugmentOp.Translation,
                "cutout" => DiffAugmentOp.Cutout,
                _ => throw new ArgumentException($"Unknown DiffAugment op '{part}' in '{policy}'; use color, translation, cutout (comma-separated) or none."),
            });
        }
        return new DiffAugmentPolicy(ops);
    }

    /// <inheritdoc />
    public override string ToString() => Ops.Count == 0 ? "none" : string.Join(",", Ops.Select(o => o.ToString().ToLowerInvariant()));
}

/// <summary>
/// The random numbers one DiffAugment call uses, per image: made explicit so that D's real and fake halves can be
/// augmented from one seeded draw, a resumed run draws the same, and tests can fix them. Shapes as the reference
/// draws them: colour factors [B, 1, 1, 1] in [0, 1), shifts and cutout centres int64 [B, 1, 1].
/// </summary>
public sealed class DiffAugmentDraw : IDisposable
{
    /// <summary>Brightness factor r (adds r − 0.5).</summary>
    public Tensor? Brightness { get; init; }

    /// <summary>Saturation factor r (scales by 2r).</summary>
    public Tensor? Saturation { get; init; }

    /// <summary>Contrast factor r (scales by r + 0.5).</summary>
    public Tensor? Contrast { get; init; }

    /// <summary>Shift along the height, in [−s, s].</summary>
    public Tensor? TranslationX { get; init; }

    /// <summary>Shift along the width, in [−s, s].</summary>
    public Tensor? TranslationY { get; init; }

    /// <summary>Cutout centre row.</summary>
    public Tensor? CutoutX { get; init; }

    /// <summary>Cutout centre column.</summary>
    public Tensor? CutoutY { get; init; }

    /// <summary>Draws what <paramref name="policy"/> needs for <paramref name="batch"/> images of
    /// <paramref name="height"/>×<paramref name="width"/>, in the reference's order (per op as listed: brightness,
    /// saturation, contrast; shift x, y; cutout x, y) from <paramref name="generator"/>.</summary>
    public static DiffAugmentDraw Sample(DiffAugmentPolicy policy, long batch, long height, long width, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        Tensor? brightness = null, saturation = null, contrast = null, tx = null, ty = null, cx = null, cy = null;
        foreach (var op in policy.Ops)
        {
            switch (op)
            {
                case DiffAugmentOp.Color:
                    brightness = rand([batch, 1, 1, 1], generator: generator);
                    saturation = rand([batch, 1, 1, 1], generator: generator);
                    contrast = rand([batch, 1, 1, 1], generator: generator);
                    break;
                case DiffAugmentOp.Translation:
                    var sx = DiffAugmenter.Shift(height);
                    var sy = DiffAugmenter.Shift(width);
                    tx = randint(-sx, sx + 1, [batch, 1, 1], generator: generator);
                    ty = randint(-sy, sy + 1, [batch, 1, 1], generator: generator);
                    break;
                case DiffAugmentOp.Cutout:
                    var (ch, cw) = (DiffAugmenter.CutoutSize(height), DiffAugmenter.CutoutSize(width));
                    cx = randint(0, height + (1 - ch % 2), [batch, 1, 1], generator: generator);
                    cy = randint(0, width + (1 - cw % 2), [batch, 1, 1], generator: generator);
                    break;
            }
        }
        return new DiffAugmentDraw
        {
            Brightness = brightness,
            Saturation = saturation,
            Contrast = contrast,
            TranslationX = tx,
            TranslationY = ty,
            CutoutX = cx,
            CutoutY = cy,
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in new[] { Brightness, Saturation, Contrast, TranslationX, TranslationY, CutoutX, CutoutY })
        {
            t?.Dispose();
        }
    }
}

/// <summary>
/// DiffAugment as <c>DiffAugment_pytorch.py</c> computes it, differentiable in the images (G's gradient flows
/// through the augmentation of fakes), applied to a batch [B, C, H, W] with an explicit <see cref="DiffAugmentDraw"/>.
/// </summary>
public sealed class DiffAugmenter
{
    /// <summary>Creates the augmenter for <paramref name="policy"/>.</summary>
    public DiffAugmenter(DiffAugmentPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        Policy = policy;
    }

    /// <summary>The ops applied.</summary>
    public DiffAugmentPolicy Policy { get; }

    /// <summary>Largest shift of a side: <c>int(side · 0.125 + 0.5)</c>.</summary>
    public static long Shift(long side) => (long)(side * 0.125 + 0.5);

    /// <summary>Cutout square side: <c>int(side · 0.5 + 0.5)</c>.</summary>
    public static long CutoutSize(long side) => (long)(side * 0.5 + 0.5);

    /// <summary>Augments with a fresh draw from <paramref name="generator"/>.</summary>
    public Tensor Apply(Tensor images, Generator? generator)
    {
        ArgumentNullException.ThrowIfNull(images);
        using var draw = DiffAugmentDraw.Sample(Policy, images.shape[0], images.shape[2], images.shape[3], generator);
        return Apply(images, draw);
    }

    /// <summary>Augments <paramref name="images"/> [B, C, H, W] with <paramref name="draw"/>.</summary>
    /// <exception cref="ArgumentException">The draw lacks what an op needs, or was made for another batch size.</exception>
    public Tensor Apply(Tensor images, DiffAugmentDraw draw)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(draw);
        if (images.ndim != 4)
        {
            throw new ArgumentException($"DiffAugment takes images [B, C, H, W], got [{string.Join(", ", images.shape)}].", nameof(images));
        }
        using var scope = NewDisposeScope();
        var x = images;
        foreach (var op in Policy.Ops)
        {
            x = op switch
            {
                DiffAugmentOp.Color => Color(x, Need(draw.Brightness, "brightness", x), Need(draw.Saturation, "saturation", x), Need(draw.Contrast, "contrast", x)),
                DiffAugmentOp.Translation => Translate(x, Need(draw.TranslationX, "translation x", x), Need(draw.TranslationY, "translation y", x)),
                _ => Cut(x, Need(draw.CutoutX, "cutout x", x), Need(draw.CutoutY, "cutout y", x)),
            };
        }
        return (ReferenceEquals(x, images) ? images.alias() : x.contiguous()).MoveToOuterDisposeScope();
    }

    private static Tensor Need(Tensor? t, string what, Tensor x) =>
        t is null
            ? throw new ArgumentException($"The DiffAugment draw has no {what}, which the policy needs.")
            : t.shape[0] != x.shape[0]
                ? throw new ArgumentException($"The DiffAugment draw's {what} is for {t.shape[0]} images, the batch has {x.shape[0]}.")
                : t;

    private static Tensor Color(Tensor x, Tensor brightness, Tensor saturation, Tensor contrast)
    {
        x = x + (brightness.to(x.dtype, x.device) - 0.5);
        var mean = x.mean([1], keepdim: true);
        x = (x - mean) * (saturation.to(x.dtype, x.device) * 2) + mean;
        mean = x.mean([1, 2, 3], keepdim: true);
        return (x - mean) * (contrast.to(x.dtype, x.device) + 0.5) + mean;
    }

    // out[b, :, i, j] = pad(x)[b, :, clamp(i + tx + 1, 0, H + 1), clamp(j + ty + 1, 0, W + 1)]: one gather over the
    // zero-padded image, the reference's advanced indexing.
    private static Tensor Translate(Tensor x, Tensor tx, Tensor ty)
    {
        var (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        var rows = (arange(h, device: x.device).view(1, h, 1) + tx.to(x.device) + 1).clamp(0, h + 1);
        var cols = (arange(w, device: x.device).view(1, 1, w) + ty.to(x.device) + 1).clamp(0, w + 1);
        var flat = (rows * (w + 2) + cols).view(b, 1, h * w).expand(b, c, h * w);
        var padded = nn.functional.pad(x, [1, 1, 1, 1]).reshape(b, c, (h + 2) * (w + 2));
        return padded.gather(2, flat).view(b, c, h, w);
    }

    private static Tensor Cut(Tensor x, Tensor cx, Tensor cy)
    {
        var (b, h, w) = (x.shape[0], x.shape[2], x.shape[3]);
        var (sh, sw) = (CutoutSize(h), CutoutSize(w));
        var batch = arange(b, device: x.device).view(b, 1, 1);
        var rows = (arange(sh, device: x.device).view(1, sh, 1) + cx.to(x.device) - sh / 2).clamp(0, h - 1);
        var cols = (arange(sw, device: x.device).view(1, 1, sw) + cy.to(x.device) - sw / 2).clamp(0, w - 1);
        var mask = ones([b, h, w], x.dtype, x.device);
        mask.index_put_(zeros([], x.dtype, x.device), [batch, rows, cols]);
        return x * mask.unsqueeze(1);
    }
}
