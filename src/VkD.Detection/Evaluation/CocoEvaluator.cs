namespace VkD.Detection.Evaluation;

/// <summary>
/// Bounding-box COCO evaluation with exactly pycocotools' <c>COCOeval</c> semantics (<c>evaluate</c>,
/// <c>accumulate</c>, <c>summarize</c> for <c>iouType='bbox'</c>), so the 12 summary numbers match to the last printed
/// digit. Work is split over categories, each of which writes only its own slots, so results do not depend on
/// threading.
/// </summary>
/// <remarks>
/// Reproduced quirks (all of pycocotools' behaviour, documented in docs/detection.md): a ground truth's own
/// <c>ignore</c> field is overwritten by <c>iscrowd</c>; a detection matched to a ground truth whose annotation id is
/// 0 counts as unmatched in the accumulation (pycocotools stores the matched id and tests it for truth); detections
/// are cut to the largest maxDets per image and category before matching.
/// </remarks>
public static class CocoEvaluator
{
    /// <summary>Evaluates detections against ground truth (pycocotools' <c>loadRes</c> + <c>evaluate</c> +
    /// <c>accumulate</c> + <c>summarize</c>).</summary>
    /// <param name="groundTruth">COCO instances dataset.</param>
    /// <param name="detections">Detections in results order (that order breaks score ties, as in pycocotools).</param>
    /// <param name="parameters">Evaluation parameters; null for COCO's defaults.</param>
    /// <exception cref="ArgumentException">A detection refers to an image that is not in the ground truth (pycocotools:
    /// 'Results do not correspond to current coco set'), or has a NaN score.</exception>
    public static CocoEvalResult Evaluate(CocoDataset groundTruth, IReadOnlyList<CocoDetection> detections,
        CocoEvalParameters? parameters = null)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        ArgumentNullException.ThrowIfNull(detections);
        var p = parameters ?? new CocoEvalParameters();
        ValidateDetections(groundTruth, detections);
        ValidateGroundTruth(groundTruth);

        var imgIds = (p.ImageIds ?? groundTruth.Images.Select(i => i.Id).ToList()).Distinct().Order().ToArray();
        var catIds = (p.CategoryIds ?? groundTruth.Categories.Select(c => c.Id).ToList()).Distinct().Order().ToArray();
        var maxDets = p.MaxDetections.Order().ToArray();
        if (maxDets.Length == 0 || maxDets[0] <= 0)
        {
            throw new ArgumentException("MaxDetections must hold positive values.", nameof(parameters));
        }
        var imgIndex = new Dictionary<long, int>(imgIds.Length);
        for (var i = 0; i < imgIds.Length; i++)
        {
            imgIndex[imgIds[i]] = i;
        }
        var catIndex = new Dictionary<long, int>(catIds.Length);
        for (var k = 0; k < catIds.Length; k++)
        {
            catIndex[catIds[k]] = k;
        }

        // Group by (category, image) keeping file order, as getAnnIds/loadAnns + _prepare do.
        var gts = new Dictionary<(int K, int I), List<Gt>>();
        foreach (var a in groundTruth.Annotations)
        {
            if (imgIndex.TryGetValue(a.ImageId, out var i) && catIndex.TryGetValue(a.CategoryId, out var k))
            {
                Add(gts, (k, i), new Gt(a.Id, a.Bbox, a.Area, a.IsCrowd));
            }
        }
        var dts = new Dictionary<(int K, int I), List<Dt>>();
        for (var n = 0; n < detections.Count; n++)
        {
            var d = detections[n];
            if (imgIndex.TryGetValue(d.ImageId, out var i) && catIndex.TryGetValue(d.CategoryId, out var k))
            {
                // loadRes: id = position + 1, area = w * h.
                Add(dts, (k, i), new Dt(n + 1, d.Bbox, d.Bbox.Width * d.Bbox.Height, d.Score));
            }
        }

        var perCategoryImages = new Dictionary<int, List<int>>();
        foreach (var key in gts.Keys.Concat(dts.Keys).Distinct())
        {
            if (!perCategoryImages.TryGetValue(key.K, out var list))
            {
                perCategoryImages[key.K] = list = [];
            }
            list.Add(key.I);
        }

        int T = p.IouThresholds.Count, R = p.RecallThresholds.Count, K = catIds.Length, A = p.AreaRanges.Count, M = maxDets.Length;
        var precision = new double[T * R * K * A * M];
        var recall = new double[T * K * A * M];
        Array.Fill(precision, -1.0);
        Array.Fill(recall, -1.0);

        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, p.MaxDegreeOfParallelism) };
        Parallel.For(0, K, options, k =>
        {
            if (!perCategoryImages.TryGetValue(k, out var images))
            {
                return;
            }
            images.Sort();
            // evalImgs for this category: [area][image in imgIds order], nulls dropped.
            var evalImgs = new List<EvalImage>[A];
            for (var a = 0; a < A; a++)
            {
                evalImgs[a] = new List<EvalImage>(images.Count);
            }
            foreach (var i in images)
            {
                var g = gts.TryGetValue((k, i), out var gl) ? gl : [];
                var d = dts.TryGetValue((k, i), out var dl) ? dl : [];
                EvaluateImage(g, d, p, maxDets[^1], evalImgs);
            }
            for (var a = 0; a < A; a++)
            {
                Accumulate(evalImgs[a], p, maxDets, k, a, K, A, precision, recall);
            }
        });

        return new CocoEvalResult(p, catIds, maxDets, precision, recall);
    }

    private static void ValidateGroundTruth(CocoDataset groundTruth)
    {
        for (var n = 0; n < groundTruth.Annotations.Count; n++)
        {
            var a = groundTruth.Annotations[n];
            if (!a.Bbox.IsFinite || !double.IsFinite(a.Area))
            {
                throw new ArgumentException(
                    $"{groundTruth.Source}: annotations[{n}] (id {a.Id}) has a non-finite bbox {a.Bbox} or area {a.Area}.");
            }
        }
    }

    private static void ValidateDetections(CocoDataset groundTruth, IReadOnlyList<CocoDetection> detections)
    {
        for (var n = 0; n < detections.Count; n++)
        {
            var d = detections[n];
            if (!groundTruth.ContainsImage(d.ImageId))
            {
                throw new ArgumentException(
                    $"Results do not correspond to current coco set: result [{n}] has image_id {d.ImageId}, which is not an image of {groundTruth.Source}.");
            }
            if (double.IsNaN(d.Score))
            {
                throw new ArgumentException($"Result [{n}] (image_id {d.ImageId}) has a NaN score.");
            }
            // pycocotools' C IoU uses fmin/fmax, which skip a NaN operand, so a NaN coordinate silently scores as
            // some other box; a NaN box is a bug upstream, so it is refused instead of guessed at.
            if (!d.Bbox.IsFinite)
            {
                throw new ArgumentException($"Result [{n}] (image_id {d.ImageId}) has a non-finite bbox {d.Bbox}.");
            }
        }
    }

    private static void Add<T>(Dictionary<(int K, int I), List<T>> map, (int K, int I) key, T item)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }
        list.Add(item);
    }

    /// <summary>Stable order by descending score: numpy's <c>argsort(-score, kind='mergesort')</c>.</summary>
    private static int[] StableOrderByScore(ReadOnlySpan<double> scores)
    {
        var keys = new ScoreKey[scores.Length];
        for (var n = 0; n < keys.Length; n++)
        {
            keys[n] = new ScoreKey(scores[n], n);
        }
        Array.Sort(keys, default(ScoreKeyComparer));
        var order = new int[keys.Length];
        for (var n = 0; n < order.Length; n++)
        {
            order[n] = keys[n].Position;
        }
        return order;
    }

    private readonly record struct ScoreKey(double Score, int Position);

    /// <summary>Descending score, ties by position: makes the unstable Array.Sort equal to a stable sort (and -0.0 ties
    /// with 0.0, as in numpy).</summary>
    private readonly struct ScoreKeyComparer : IComparer<ScoreKey>
    {
        public int Compare(ScoreKey x, ScoreKey y)
        {
            if (x.Score > y.Score)
            {
                return -1;
            }
            if (x.Score < y.Score)
            {
                return 1;
            }
            return x.Position.CompareTo(y.Position);
        }
    }

    /// <summary>computeIoU + evaluateImg for one image and category, for every area range.</summary>
    private static void EvaluateImage(List<Gt> gtAll, List<Dt> dtAll, CocoEvalParameters p, int maxDet,
        List<EvalImage>[] evalImgs)
    {
        var dtScores = new double[dtAll.Count];
        for (var n = 0; n < dtScores.Length; n++)
        {
            dtScores[n] = dtAll[n].Score;
        }
        var order = StableOrderByScore(dtScores);
        var D = Math.Min(order.Length, maxDet);
        var dt = new Dt[D];
        for (var n = 0; n < D; n++)
        {
            dt[n] = dtAll[order[n]];
        }
        var G = gtAll.Count;
        // ious[d, g] over ground truth in file order (maskUtils.iou / bbIou); empty when either side is empty.
        var haveIous = D > 0 && G > 0;
        var ious = haveIous ? new double[D * G] : [];
        if (haveIous)
        {
            for (var g = 0; g < G; g++)
            {
                var gb = gtAll[g].Box;
                var ga = gb.Width * gb.Height;
                var crowd = gtAll[g].IsCrowd;
                for (var d = 0; d < D; d++)
                {
                    ious[(d * G) + g] = BoxIou(dt[d].Box, gb, ga, crowd);
                }
            }
        }

        var T = p.IouThresholds.Count;
        var ignore = new bool[G];
        var gtind = new int[G];
        for (var a = 0; a < p.AreaRanges.Count; a++)
        {
            var range = p.AreaRanges[a];
            for (var g = 0; g < G; g++)
            {
                ignore[g] = gtAll[g].IsCrowd || range.Excludes(gtAll[g].Area);
            }
            // Stable argsort of the ignore flags: regular ground truth first, file order kept.
            var w = 0;
            for (var g = 0; g < G; g++)
            {
                if (!ignore[g])
                {
                    gtind[w++] = g;
                }
            }
            var numRegular = w;
            for (var g = 0; g < G; g++)
            {
                if (ignore[g])
                {
                    gtind[w++] = g;
                }
            }

            var gtMatched = new bool[T * G];
            var dtMatched = new bool[T * D];
            var dtIgnore = new bool[T * D];
            if (haveIous)
            {
                for (var t = 0; t < T; t++)
                {
                    for (var d = 0; d < D; d++)
                    {
                        var iou = Math.Min(p.IouThresholds[t], 1 - 1e-10);
                        var m = -1;
                        for (var s = 0; s < G; s++)
                        {
                            var g = gtind[s];
                            if (gtMatched[(t * G) + s] && !gtAll[g].IsCrowd)
                            {
                                continue;
                            }
                            // Matched to a regular gt and reaching the ignored ones: stop.
                            if (m > -1 && !ignore[gtind[m]] && ignore[g])
                            {
                                break;
                            }
                            var v = ious[(d * G) + g];
                            if (v < iou)
                            {
                                continue;
                            }
                            iou = v;
                            m = s;
                        }
                        if (m == -1)
                        {
                            continue;
                        }
                        var matchedGt = gtAll[gtind[m]];
                        dtIgnore[(t * D) + d] = ignore[gtind[m]];
                        // pycocotools stores the gt id and later tests it for truth: a match to id 0 reads as none.
                        dtMatched[(t * D) + d] = matchedGt.Id != 0;
                        gtMatched[(t * G) + m] = true;
                    }
                }
            }
            // Unmatched detections outside the area range are ignored.
            for (var d = 0; d < D; d++)
            {
                if (!range.Excludes(dt[d].Area))
                {
                    continue;
                }
                for (var t = 0; t < T; t++)
                {
                    if (!dtMatched[(t * D) + d])
                    {
                        dtIgnore[(t * D) + d] = true;
                    }
                }
            }
            var scores = new double[D];
            for (var d = 0; d < D; d++)
            {
                scores[d] = dt[d].Score;
            }
            evalImgs[a].Add(new EvalImage(scores, dtMatched, dtIgnore, numRegular));
        }
    }

    /// <summary>pycocotools' <c>bbIou</c> (maskApi.c): for crowd ground truth the union is the detection's area.</summary>
    private static double BoxIou(BoxXywh d, BoxXywh g, double ga, bool crowd)
    {
        var da = d.Width * d.Height;
        var w = Math.Min(d.Width + d.X, g.Width + g.X) - Math.Max(d.X, g.X);
        if (w <= 0)
        {
            return 0;
        }
        var h = Math.Min(d.Height + d.Y, g.Height + g.Y) - Math.Max(d.Y, g.Y);
        if (h <= 0)
        {
            return 0;
        }
        var i = w * h;
        var u = crowd ? da : da + ga - i;
        return i / u;
    }

    /// <summary>accumulate() for one category and area range, every maxDets value.</summary>
    private static void Accumulate(List<EvalImage> e, CocoEvalParameters p, int[] maxDets, int k, int a, int K, int A,
        double[] precision, double[] recall)
    {
        if (e.Count == 0)
        {
            return;
        }
        var npig = 0;
        foreach (var img in e)
        {
            npig += img.NumRegularGt;
        }
        if (npig == 0)
        {
            return;
        }
        int T = p.IouThresholds.Count, R = p.RecallThresholds.Count, M = maxDets.Length;
        const double eps = 2.220446049250313e-16; // np.spacing(1)
        // Concatenate per-image detections (image order, then score order) and sort stably by descending score once;
        // for a smaller maxDets the stable order of the subset is this order filtered, since relative positions agree.
        var total = 0;
        foreach (var img in e)
        {
            total += img.Scores.Length;
        }
        var allScores = new double[total];
        var allOwner = new int[total];
        var allColumn = new int[total];
        var w = 0;
        for (var ei = 0; ei < e.Count; ei++)
        {
            for (var d = 0; d < e[ei].Scores.Length; d++)
            {
                allScores[w] = e[ei].Scores[d];
                allOwner[w] = ei;
                allColumn[w] = d;
                w++;
            }
        }
        var fullOrder = StableOrderByScore(allScores);
        for (var m = 0; m < M; m++)
        {
            var maxDet = maxDets[m];
            var kept = new List<int>(total);
            foreach (var idx in fullOrder)
            {
                if (allColumn[idx] < maxDet)
                {
                    kept.Add(idx);
                }
            }
            var nd = kept.Count;
            var owner = new int[nd];
            var column = new int[nd];
            for (var n = 0; n < nd; n++)
            {
                owner[n] = allOwner[kept[n]];
                column[n] = allColumn[kept[n]];
            }
            var rc = new double[nd];
            var pr = new double[nd];
            for (var t = 0; t < T; t++)
            {
                double tp = 0, fp = 0;
                for (var s = 0; s < nd; s++)
                {
                    var img = e[owner[s]];
                    var idx = (t * img.Scores.Length) + column[s];
                    if (!img.DtIgnore[idx])
                    {
                        if (img.DtMatched[idx])
                        {
                            tp++;
                        }
                        else
                        {
                            fp++;
                        }
                    }
                    rc[s] = tp / npig;
                    pr[s] = tp / (fp + tp + eps);
                }
                recall[(((t * K) + k) * A + a) * M + m] = nd > 0 ? rc[nd - 1] : 0;
                // Monotone precision envelope.
                for (var s = nd - 1; s > 0; s--)
                {
                    if (pr[s] > pr[s - 1])
                    {
                        pr[s - 1] = pr[s];
                    }
                }
                // searchsorted(rc, recThrs, side='left'); thresholds beyond the last recall keep precision 0.
                var pos = 0;
                for (var r = 0; r < R; r++)
                {
                    var thr = p.RecallThresholds[r];
                    while (pos < nd && rc[pos] < thr)
                    {
                        pos++;
                    }
                    var q = 0.0;
                    if (pos < nd)
                    {
                        q = pr[pos];
                    }
                    else
                    {
                        // pycocotools' IndexError ends the loop: every later threshold stays 0.
                        for (; r < R; r++)
                        {
                            precision[Index5(t, r, k, a, m, R, K, A, M)] = 0;
                        }
                        break;
                    }
                    precision[Index5(t, r, k, a, m, R, K, A, M)] = q;
                }
            }
        }
    }

    internal static int Index5(int t, int r, int k, int a, int m, int R, int K, int A, int M) =>
        ((((((t * R) + r) * K) + k) * A + a) * M) + m;

    private sealed record Gt(long Id, BoxXywh Box, double Area, bool IsCrowd);

    private sealed record Dt(long Id, BoxXywh Box, double Area, double Score);

    /// <summary>evaluateImg's output for one image, category and area range (maxDet = largest maxDets).</summary>
    private sealed record EvalImage(double[] Scores, bool[] DtMatched, bool[] DtIgnore, int NumRegularGt);
}
