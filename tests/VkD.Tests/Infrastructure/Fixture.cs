using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace VkD.Tests.Infrastructure;

/// <summary>Reads a parity fixture: a dict of tensors written by tools/fixtures/*.py with PyTorch's torch.save.</summary>
public sealed class Fixture : IDisposable
{
    private readonly Dictionary<string, Tensor> _tensors;

    private Fixture(string path, Dictionary<string, Tensor> tensors)
    {
        Path = path;
        _tensors = tensors;
    }

    /// <summary>Full path of the fixture file.</summary>
    public string Path { get; }

    /// <summary>Names of the tensors in the file.</summary>
    public IEnumerable<string> Keys => _tensors.Keys;

    /// <summary>Loads Fixtures/&lt;part&gt;/&lt;name&gt;.pt from the test output folder.</summary>
    public static Fixture Load(string part, string name)
    {
        var path = System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", part, name + ".pt");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Fixture {path} is missing; run tools/fixtures/*.py with Debian's python3-torch.", path);
        }
        var table = PyTorchUnpickler.UnpickleStateDict(path);
        var tensors = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry e in table)
        {
            tensors[(string)e.Key] = (Tensor)e.Value!;
        }
        return new Fixture(path, tensors);
    }

    /// <summary>The tensor stored under <paramref name="key"/>.</summary>
    public Tensor this[string key] => _tensors.TryGetValue(key, out var t)
        ? t
        : throw new KeyNotFoundException($"Fixture {Path} has no tensor '{key}' (has: {string.Join(", ", _tensors.Keys)}).");

    /// <summary>True when the fixture holds <paramref name="key"/>.</summary>
    public bool Contains(string key) => _tensors.ContainsKey(key);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _tensors.Values)
        {
            t.Dispose();
        }
    }
}
