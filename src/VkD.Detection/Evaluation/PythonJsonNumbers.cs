using System.Text.Json;
using System.Text.Json.Serialization;

namespace VkD.Detection.Evaluation;

/// <summary>
/// Reads a JSON integer the way Python does once <c>json.load</c> has run: <c>3</c>, <c>3.0</c> and <c>true</c>
/// (= 1) are the same dictionary key, so converters that write ids or <c>iscrowd</c> as floats or booleans work with
/// pycocotools. A fractional number or a string is refused, naming the key.
/// </summary>
internal sealed class PythonIntegerConverter : JsonConverter<long>
{
    public override long Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                return 1;
            case JsonTokenType.False:
                return 0;
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out var whole))
                {
                    return whole;
                }
                var value = reader.GetDouble();
                if (Math.Floor(value) == value && Math.Abs(value) < 9.007199254740992e15)
                {
                    return (long)value;
                }
                throw new JsonException($"expected an integer, got {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            default:
                throw new JsonException($"expected an integer, got a JSON {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, long value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}

/// <summary><see cref="PythonIntegerConverter"/> for 32-bit fields (image sizes, <c>iscrowd</c>).</summary>
internal sealed class PythonInt32Converter : JsonConverter<int>
{
    private static readonly PythonIntegerConverter Wide = new();

    public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = Wide.Read(ref reader, typeof(long), options);
        return value is >= int.MinValue and <= int.MaxValue ? (int)value : throw new JsonException($"integer {value} out of range");
    }

    public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}

/// <summary>A JSON number as Python reads it: numbers and booleans (numeric in Python), never strings.</summary>
internal sealed class PythonNumberConverter : JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => reader.GetDouble(),
        JsonTokenType.True => 1,
        JsonTokenType.False => 0,
        _ => throw new JsonException($"expected a number, got a JSON {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
}
