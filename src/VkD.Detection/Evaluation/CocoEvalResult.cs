using System.Text;

namespace VkD.Detection.Evaluation;

/// <summary>One of COCOeval's 12 summary numbers and the line pycocotools prints for it.</summary>
/// <param name="Name">Short name (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl).</param>
/// <param name="Value">The mean over categories, thresholds (and recall points for AP); -1 when nothing qualifies.</param>
/// <param name="Line">The line exactly as pycocotools' <c>summarize()</c> prints it.</param>
public sealed record CocoSummaryStat(string Name, double Value, string Line);

/// <summary>
/// Accumulated COCO evaluation: the precision array [T, R, K, A, M] and recall array [T, K, A, M] of pycocotools'
/// <c>accumulate()</c> (-1 where a category has no ground truth in the area range), and the 12-number summary.
/// </summary>
public sealed class CocoEvalResult
{
    private readonly double[] _precision;
    private readonly double[] _recall;

    internal CocoEvalResult(CocoEvalParameters parameters, long[] categoryIds, int[] maxDets, double[] precision, double[] recall)
    {
        Parameters = parameters;
        CategoryIds = categoryIds;
        MaxDetections = maxDets;
        _precision = precision;
        _recall = recall;
        Summary = Summarize();
    }

    /// <summary>The parameters used.</summary>
    public CocoEvalParameters Parameters { get; }

    /// <summary>Evaluated category ids, ascending (the K axis).</summary>
    public IReadOnlyList<long> CategoryIds { get; }

    /// <summary>maxDets values, ascending (the M axis).</summary>
    public IReadOnlyList<int> MaxDetections { get; }

    /// <summary>The 12 summary numbers in pycocotools' order (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs,
    /// ARm, ARl).</summary>
    public IReadOnlyList<CocoSummaryStat> Summary { get; }

    /// <summary>The 12 values of <see cref="Summary"/> (pycocotools' <c>stats</c>).</summary>
    public double[] Stats => Summary.Select(s => s.Value).ToArray();

    /// <summary>Interpolated precision at IoU index t, recall index r, category index k, area index a, maxDets index m.</summary>
    public double Precision(int t, int r, int k, int a, int m) =>
        _precision[CocoEvaluator.Index5(t, r, k, a, m, Parameters.RecallThresholds.Count, CategoryIds.Count,
            Parameters.AreaRanges.Count, MaxDetections.Count)];

    /// <summary>Maximum recall at IoU index t, category index k, area index a, maxDets index m.</summary>
    public double Recall(int t, int k, int a, int m) =>
        _recall[(((((t * CategoryIds.Count) + k) * Parameters.AreaRanges.Count) + a) * MaxDetections.Count) + m];

    /// <summary>AP@[.5:.95] (area all, largest maxDets) of one category; -1 if it has no ground truth.</summary>
    public double CategoryAp(long categoryId)
    {
        var k = CategoryIds.ToList().IndexOf(categoryId);
        if (k < 0)
        {
            throw new KeyNotFoundException($"Category {categoryId} was not evaluated.");
        }
        var values = new List<double>();
        for (var t = 0; t < Parameters.IouThresholds.Count; t++)
        {
            for (var r = 0; r < Parameters.RecallThresholds.Count; r++)
            {
                var v = Precision(t, r, k, AreaIndex("all"), MaxDetections.Count - 1);
                if (v > -1)
                {
                    values.Add(v);
                }
            }
        }
        return values.Count == 0 ? -1 : NumpyCompat.Mean(values.ToArray());
    }

    /// <summary>The 12 summary lines joined with newlines, as pycocotools prints them.</summary>
    public string FormatSummary()
    {
        var sb = new StringBuilder();
        foreach (var s in Summary)
        {
            sb.Append(s.Line).Append('\n');
        }
        return sb.ToString();
    }

    private int AreaIndex(string label)
    {
        for (var a = 0; a < Parameters.AreaRanges.Count; a++)
        {
            if (Parameters.AreaRanges[a].Label == label)
            {
                return a;
            }
        }
        return -1;
    }

    private List<CocoSummaryStat> Summarize()
    {
        // pycocotools' _summarize: the first line at the fixed maxDets=100 (so -1 when 100 is not a setting), the rest
        // at maxDets[0], [1], [2]. With fewer than three settings pycocotools raises IndexError; there the last and
        // middle settings stand in.
        var md = MaxDetections;
        var last = md.Count > 2 ? md[2] : md[^1];
        var mid = md.Count > 1 ? md[1] : md[^1];
        return
        [
            Stat("AP", ap: true, null, "all", 100),
            Stat("AP50", ap: true, 0.5, "all", last),
            Stat("AP75", ap: true, 0.75, "all", last),
            Stat("APs", ap: true, null, "small", last),
            Stat("APm", ap: true, null, "medium", last),
            Stat("APl", ap: true, null, "large", last),
            Stat("AR1", ap: false, null, "all", md[0]),
            Stat("AR10", ap: false, null, "all", mid),
            Stat("AR100", ap: false, null, "all", last),
            Stat("ARs", ap: false, null, "small", last),
            Stat("ARm", ap: false, null, "medium", last),
            Stat("ARl", ap: false, null, "large", last),
        ];
    }

    /// <summary>pycocotools' <c>_summarize</c>: values gathered in C order (t, r, k), those &gt; -1 averaged with
    /// numpy's summation.</summary>
    private CocoSummaryStat Stat(string name, bool ap, double? iouThr, string area, int maxDets)
    {
        var thresholds = Parameters.IouThresholds;
        var ts = new List<int>();
        for (var t = 0; t < thresholds.Count; t++)
        {
            // np.where(iouThr == p.iouThrs): exact double equality.
            if (iouThr is null || thresholds[t] == iouThr.Value)
            {
                ts.Add(t);
            }
        }
        var a = AreaIndex(area);
        var m = MaxDetections.ToList().IndexOf(maxDets);
        var values = new List<double>();
        if (a >= 0 && m >= 0)
        {
            foreach (var t in ts)
            {
                if (ap)
                {
                    for (var r = 0; r < Parameters.RecallThresholds.Count; r++)
                    {
                        for (var k = 0; k < CategoryIds.Count; k++)
                        {
                            var v = Precision(t, r, k, a, m);
                            if (v > -1)
                            {
                                values.Add(v);
                            }
                        }
                    }
                }
                else
                {
                    for (var k = 0; k < CategoryIds.Count; k++)
                    {
                        var v = Recall(t, k, a, m);
                        if (v > -1)
                        {
                            values.Add(v);
                        }
                    }
                }
            }
        }
        var mean = values.Count == 0 ? -1 : NumpyCompat.Mean(values.ToArray());
        var title = ap ? "Average Precision" : "Average Recall";
        var type = ap ? "(AP)" : "(AR)";
        var iouText = iouThr is null
            ? $"{NumpyCompat.FormatFixed(thresholds[0], 2)}:{NumpyCompat.FormatFixed(thresholds[^1], 2)}"
            : NumpyCompat.FormatFixed(iouThr.Value, 2);
        var line = $" {title,-18} {type} @[ IoU={iouText,-9} | area={area,6} | maxDets={maxDets,3} ] = {NumpyCompat.FormatFixed(mean, 3)}";
        return new CocoSummaryStat(name, mean, line);
    }
}
