<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 500 internal: anything else; the sidecar logs it. */
class InternalException extends OrbitException
{
}
