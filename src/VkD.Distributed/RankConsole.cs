using System.Text;

namespace VkD.Distributed;

/// <summary>
/// Console output of the ranks of a job: only rank 0 speaks, as the reference's <c>setup_for_distributed</c> silences
/// <c>print</c> on the other ranks, except that their error lines still reach standard error, prefixed with the rank,
/// so a failure on any rank is seen and attributed.
/// </summary>
public static class RankConsole
{
    /// <summary>On a rank other than 0 of a multi-process job, replaces standard output by a writer that keeps only
    /// lines starting with <c>error:</c> and sends them to standard error. Does nothing elsewhere.</summary>
    public static void QuietUnlessMain()
    {
        if (MpiProcessEnvironment.IsMultiProcess && MpiProcessEnvironment.Rank is int rank && rank > 0)
        {
            Console.SetOut(new ErrorLinesWriter(Console.Error, $"[rank {rank}] "));
        }
    }

    /// <summary>Passes on whole lines that start with <c>error:</c>, with a prefix; drops the rest.</summary>
    internal sealed class ErrorLinesWriter(TextWriter target, string prefix) : TextWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => target.Encoding;

        public override void Write(char value)
        {
            lock (_line)
            {
                if (value == '\n')
                {
                    var line = _line.ToString().TrimEnd('\r');
                    _line.Clear();
                    if (line.StartsWith("error:", StringComparison.Ordinal))
                    {
                        target.WriteLine(prefix + line);
                        target.Flush();
                    }
                    return;
                }
                _line.Append(value);
            }
        }
    }
}
